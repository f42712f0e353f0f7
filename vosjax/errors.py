"""The error types a user can cause, and an error's message on one line.

Errors a user can fix (flags, configs, paths, data, damaged files) are subclasses of `UserError`, or one of the
library's own error types that mix it in (`DatasetError`, `CheckpointNotFoundError`, ...). The entry points
(`vosjax.cli.entry_point`) print them as one line and exit with status 2; any other exception is a bug. This module
imports nothing of vosjax, so every layer may raise them.
"""

from __future__ import annotations


class UserError(Exception):
  """A problem with the user's input; its message names the thing and the fix."""


class ConfigError(UserError, ValueError):
  """A config value that cannot work (checked before anything is written)."""


def one_line(error: BaseException, limit: int | None = None) -> str:
  """The error's message on one line (a KeyError's quotes removed), cut to `limit` characters if given (orbax's
  messages can hold kilobytes of spec)."""
  text = str(error.args[0]).strip("'\"") if isinstance(error, KeyError) and error.args else str(error)
  text = ' '.join(part.strip() for part in text.strip().replace("\\'", "'").splitlines() if part.strip())
  text = ' '.join(text.split()) or type(error).__name__
  return text[:limit] + '...' if limit is not None and len(text) > limit else text
