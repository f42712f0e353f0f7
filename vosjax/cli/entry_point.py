"""One error path for every entry point: a mistake the user can fix is one line on stderr and exit status 2.

Errors a user can cause are `vosjax.errors.UserError`s. `run_entry_point` prints them as `program: message` and
exits with 2; any other exception is a bug and keeps its traceback. `--debug` (or VOSJAX_DEBUG=1) shows the
traceback of a user error too. The same holds for the command line itself. There are two parsing styles, one per
kind of command:
* `train.py` and `evaluate.py` take an ml_collections config file and `--config.a.b=value` overrides, so they use
  absl flags (`define_config_flag`, `absl_flags_parser`), as flax's and big_vision's examples do;
* every `python -m vosjax.*` command parses with `ArgumentParser` inside `run_command`.
Both report a misspelt flag, a bad value or a stray positional argument in one line with status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, Callable, NoReturn

from vosjax.errors import UserError, one_line

EXIT_USER_ERROR = 2


def debug_requested(argv: list[str] | None = None) -> bool:
  argv = sys.argv[1:] if argv is None else argv
  return '--debug' in argv or os.environ.get('VOSJAX_DEBUG', '') not in ('', '0')


def fail(program: str, message: str) -> NoReturn:
  print(f'{program}: {message}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USER_ERROR)


def run_entry_point(program: str, function: Callable[..., Any], *args, **kwargs) -> Any:
  """Calls `function`; a user error becomes one line on stderr and exit status 2 (its traceback with --debug)."""
  try:
    return function(*args, **kwargs)
  except UserError as error:
    if debug_requested():
      raise
    fail(program, one_line(error))


def run_command(program: str, parse: Callable[[list[str]], Any], function: Callable[[Any], Any],
                argv: list[str] | None = None) -> Any:
  """A `python -m vosjax.*` command: `function(parse(argv))`, where a mistake in the arguments or the input is one
  line on stderr and exit status 2 (its traceback with --debug among `argv`, or VOSJAX_DEBUG=1).

  Args:
    program: the name printed before the message, e.g. 'vosjax.segment'.
    parse: argv -> the parsed arguments (an `ArgumentParser`'s `parse_args`).
    function: does the work.
    argv: the arguments (default: sys.argv[1:]).
  """
  argv = sys.argv[1:] if argv is None else list(argv)
  try:
    return function(parse(argv))
  except UserError as error:
    if debug_requested(argv):
      raise
    fail(program, one_line(error))


def _flag_message(error: BaseException, argv: list[str]) -> str:
  if not isinstance(error, (AttributeError, KeyError)):
    return f'{one_line(error)} (see --help)'
  raw = str(error)  # ml_collections: a field that does not exist, e.g. "'lrr'\nDid you mean "lr" instead of "lrr"?"
  overrides = [a.split('=')[0] for a in argv if a.startswith('--config.')]
  unescaped = raw.replace('\\', '')
  override = next((o for o in overrides if any(f"'{part}'" in unescaped for part in o.split('.')[1:])), None)
  suggestion = re.search(r'Did you mean "([^"]+)"', raw)
  hint = f'; did you mean {suggestion.group(1)}?' if suggestion else ''
  return f'{override or "a --config override"}: no such config field{hint} (see --help)'


def define_config_flag(program: str, default: str, help_text: str) -> None:
  """`config_flags.DEFINE_config_file('config', ...)`, locked; ml_collections applies `--config.*` overrides from
  sys.argv right here, so a misspelt or ill-typed override is reported as one line (status 2) at this point."""
  from ml_collections import config_flags
  try:
    config_flags.DEFINE_config_file('config', default, help_text, lock_config=True)
  except (AttributeError, KeyError, TypeError, ValueError, OSError) as error:
    if debug_requested():
      raise
    fail(program, _flag_message(error, sys.argv[1:]))


def absl_flags_parser(program: str) -> Callable[[list[str]], list[str]]:
  """A `flags_parser` for `absl.app.run`: a misspelt or ill-typed flag or config override is one line, status 2."""
  from absl import flags

  def parse(argv: list[str]) -> list[str]:
    try:
      remaining = flags.FLAGS(argv)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as error:
      if debug_requested(argv[1:]):
        raise
      fail(program, _flag_message(error, argv[1:]))
    if 'config' in flags.FLAGS:
      try:  # ml_collections loads the config file lazily: make a missing or broken file fail here
        flags.FLAGS.config.keys()
      except Exception as error:  # noqa: BLE001 (whatever the config file raises)
        if debug_requested(argv[1:]):
          raise
        cause = error.__cause__ or error
        fail(program, f'--config: cannot load the config file ({one_line(cause)[:300]})')
    if len(remaining) > 1:  # as flax's examples: `train.py configs/x.py` must not train the default silently
      fail(program, f'unexpected positional arguments {" ".join(remaining[1:])}; every argument is a flag (did you '
                    f'mean --config {remaining[1]}?) (see --help)')
    return remaining

  return parse


class ArgumentParser(argparse.ArgumentParser):
  """argparse for the `python -m vosjax.*` commands: a mistake (an unknown flag, a missing or ill-typed value, a
  positional argument) is a UserError, so `run_entry_point` reports it in one line with status 2."""

  def error(self, message):
    raise UserError(f'{message} (see --help)')
