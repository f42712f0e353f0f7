"""Checksums of a saved checkpoint, so that damage (a truncated or altered file) is told apart from a mismatch, and a
read-only restore of a checkpoint's network variables (training's `init_from`, inference).

After orbax has finished a step's folder, `write_checksums` records the size and CRC-32 of every file in it in
`vosjax_checksums.json` (beside orbax's own files, which it ignores). `check_checksums` compares them again: a
checkpoint that reads back wrong although its files are intact does not fit the network or config asked for; one
whose files changed is damaged. Folders written without the record (older runs, other tools) are 'unverified'.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from vosjax.files.atomic_write import atomic_path
from vosjax.errors import UserError, one_line

CHECKSUM_FILE = 'vosjax_checksums.json'


class DamagedCheckpointError(UserError, OSError):
  """A checkpoint (or every checkpoint of a workdir) cannot be read; the message names each one and the problem."""


class CheckpointMismatchError(UserError, ValueError):
  """A checkpoint whose files are intact does not fit the state asked for (another network or config)."""


def _crc32(path: str) -> int:
  value = 0
  with open(path, 'rb') as f:
    while chunk := f.read(1 << 20):
      value = zlib.crc32(chunk, value)
  return value


def _files(step_dir: str) -> list[str]:
  found = []
  for directory, _, names in os.walk(step_dir):
    for name in names:
      relative = os.path.relpath(os.path.join(directory, name), step_dir)
      if relative != CHECKSUM_FILE:
        found.append(relative)
  return sorted(found)


def write_checksums(step_dir: str) -> None:
  """Records {file: [size, crc32]} of every file of a finished checkpoint folder (written atomically)."""
  record = {name: [os.path.getsize(os.path.join(step_dir, name)), _crc32(os.path.join(step_dir, name))]
            for name in _files(step_dir)}
  with atomic_path(os.path.join(step_dir, CHECKSUM_FILE), hidden=True) as temporary, open(temporary, 'w') as f:
    json.dump(record, f)


def check_checksums(step_dir: str) -> tuple[str, str]:
  """('intact' | 'damaged' | 'unverified', what was found), e.g. ('damaged', 'state/d/12ab: 812 bytes, 4096 saved')."""
  path = os.path.join(step_dir, CHECKSUM_FILE)
  if not os.path.isfile(path):
    return 'unverified', f'{step_dir} has no {CHECKSUM_FILE}'
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, ValueError):
    return 'damaged', f'{path} is unreadable'
  for name, (size, crc) in sorted(record.items()):
    file_path = os.path.join(step_dir, name)
    if not os.path.isfile(file_path):
      return 'damaged', f'{file_path} is missing'
    actual = os.path.getsize(file_path)
    if actual != size:
      return 'damaged', f'{file_path} has {actual} bytes, {size} were saved'
    if _crc32(file_path) != crc:
      return 'damaged', f'{file_path} changed since it was saved (checksum)'
  return 'intact', ''


class VariablesMismatchError(UserError, ValueError):
  """A checkpoint's network variables have other shapes than the network asked for."""


def read_variables(directory: str, step: int, abstract_variables: Any) -> dict:
  """{'params', 'batch_stats'} from `<directory>/<step>` (a train.py checkpoint), as host arrays, read-only.

  Only the network's variables are read (the optimiser state is left in the file), so a checkpoint trained with other
  optimiser settings initialises this network just as well.

  Args:
    directory: a workdir's `checkpoints` folder.
    step: the step to read.
    abstract_variables: the network's variables or their shapes ({'params', 'batch_stats'}, more keys ignored).

  Raises:
    DamagedCheckpointError: orbax cannot read it. VariablesMismatchError: a shape differs from the network's.
  """
  abstract = {'params': abstract_variables['params'], 'batch_stats': abstract_variables['batch_stats']}
  manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))  # creates nothing
  restore = ocp.args.PyTreeRestore(item=abstract, partial_restore=True,
                                   restore_args=ocp.checkpoint_utils.construct_restore_args(abstract))
  try:
    restored = manager.restore(step, args=ocp.args.Composite(state=restore))['state']
  except Exception as error:  # noqa: BLE001 (orbax and tensorstore raise many types on bad files)
    raise DamagedCheckpointError(f'{directory}/{step}: cannot be read ({one_line(error, limit=200)})') from None
  finally:
    manager.close()
  for (path, want), got in zip(jax.tree_util.tree_leaves_with_path(abstract), jax.tree.leaves(restored)):
    if tuple(got.shape) != tuple(want.shape):
      raise VariablesMismatchError(f'{directory}/{step}: {jax.tree_util.keystr(path)} has shape {got.shape}, the '
                                   f'network expects {want.shape} (a different architecture?)')
  return restored
