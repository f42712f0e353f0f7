"""A command's output folder: refused when it holds something else, emptied of the command's own files only with
--overwrite, and marked INCOMPLETE until the command has written everything (`vosjax.segment`, `vosjax.export`).

    created = prepare_output(out, overwrite, is_own, SomeError, 'what INCOMPLETE says')
    try:
      ...load what can fail before any output...
    except BaseException:
      discard(out, own_names, created)   # nothing was written: no output left behind
      raise
    ...write...
    finish(out)                          # the INCOMPLETE marker goes last
"""

from __future__ import annotations

import os
import shutil
from typing import Callable, Iterable

INCOMPLETE = 'INCOMPLETE'


def prepare_output(out: str, overwrite: bool, is_own: Callable[[str], bool], error: type[Exception],
                   marker_text: str, subfolders: Iterable[str] = ()) -> bool:
  """Makes `out` a writable folder holding only the INCOMPLETE marker (and `subfolders`); True if it created `out`.

  Args:
    out: the folder.
    overwrite: remove an earlier result of this command (the names `is_own` accepts) instead of refusing.
    is_own: whether a name in `out` is one this command writes.
    error: the exception raised (one line, naming `out`) when the folder cannot be used.
    marker_text: what the INCOMPLETE file says.
    subfolders: folders to create inside `out`.
  """
  if os.path.exists(out) and not os.path.isdir(out):
    raise error(f'{out}: exists and is not a folder')
  created = not os.path.exists(out)
  if os.path.isdir(out) and os.listdir(out):
    if not overwrite:
      raise error(f'{out}: the folder is not empty (an earlier result?); pass --overwrite to replace it, or choose '
                  'another --out')
    foreign = sorted(n for n in os.listdir(out) if n != INCOMPLETE and not is_own(n))
    if foreign:
      raise error(f'{out}: --overwrite removes only this command\'s files, and the folder also holds '
                  f'{", ".join(foreign[:5])}; choose another --out')
    remove_files(out, [n for n in os.listdir(out) if is_own(n)])
  try:
    for folder in (out, *(os.path.join(out, name) for name in subfolders)):
      os.makedirs(folder, exist_ok=True)
    with open(os.path.join(out, INCOMPLETE), 'w') as f:
      f.write(marker_text)
  except OSError as os_error:
    raise error(f'{out}: cannot write the output folder ({os_error.strerror or os_error})') from None
  return created


def discard(out: str, names: Iterable[str], created: bool) -> None:
  """Removes what a command that failed before writing its result left in `out`: the named files and folders,
  the INCOMPLETE marker, and `out` itself if the command created it and it is now empty."""
  remove_files(out, names)
  if created and os.path.isdir(out) and not os.listdir(out):
    os.rmdir(out)


def finish(out: str) -> None:
  """Marks `out` complete: removes its INCOMPLETE marker (the command's last write)."""
  os.remove(os.path.join(out, INCOMPLETE))


def remove_files(folder: str, names: Iterable[str]) -> None:
  """Removes the named files and folders of `folder` and its INCOMPLETE marker (absent ones are skipped)."""
  for name in [*names, INCOMPLETE]:
    path = os.path.join(folder, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
    elif os.path.exists(path):
      os.remove(path)
