"""Writing a file so that readers only ever see the old file or the complete new one."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, hidden: bool = False) -> Iterator[str]:
  """Yields a temporary path beside `path`; when the block ends without error, the file written there replaces
  `path` (one rename), else it is removed.

  Args:
    path: the final file.
    hidden: name the temporary file with a leading dot (kept out of listings that skip dot-files).
  """
  path = os.fspath(path)
  folder, name = os.path.split(path)
  temporary = os.path.join(folder, f'{"." if hidden else ""}{name}.tmp{os.getpid()}')
  try:
    yield temporary
    os.replace(temporary, path)
  except BaseException:
    if os.path.exists(temporary):
      os.remove(temporary)
    raise


def write_text(path: str | os.PathLike, text: str) -> None:
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as temporary, open(temporary, 'w') as f:
    f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
  """Writes `data` to `path` atomically."""
  with atomic_path(path) as temporary, open(temporary, 'wb') as f:
    f.write(data)
