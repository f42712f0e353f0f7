"""Orbax checkpoints of the train state together with the grain iterator's position.

Saves are atomic (written to a temporary folder, then renamed), so a run killed mid-save resumes from the previous
checkpoint, and each finished checkpoint gets a checksum record (`vosjax.files.checkpoint_integrity`). The state is
restored into an abstract target (`jax.eval_shape` of the state with its shardings), so optimiser states come back
with their types and arrays with their shardings. `restore_readable` resumes from the newest checkpoint that reads back: a
damaged one is reported in one line, moved to `<workdir>/damaged_checkpoints/` (so that its step can be saved
again) and the next older one is used.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Callable

import grain
import jax
import orbax.checkpoint as ocp

from vosjax.errors import one_line
from vosjax.files import workdir as workdir_layout
from vosjax.files.checkpoint_integrity import (CheckpointMismatchError, DamagedCheckpointError, check_checksums,
                                               write_checksums)


def checkpoint_manager(workdir: str, *, max_to_keep: int = 3) -> ocp.CheckpointManager:
  """The manager of `<workdir>/checkpoints`, keeping the last `max_to_keep` checkpoints."""
  # Synchronous saves: the checksum record is written right after a checkpoint is complete.
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
  return ocp.CheckpointManager(workdir_layout.checkpoints_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, step: int, state: Any, data_iterator=None) -> None:
  """Saves the state (and the iterator position, if given) at `step`; asynchronous, see `manager.wait_until_finished`."""
  items = {'state': ocp.args.StandardSave(state)}
  if data_iterator is not None:
    items['data_iter'] = grain.checkpoint.CheckpointSave(data_iterator)
  manager.save(step, args=ocp.args.Composite(**items), force=True)
  manager.wait_until_finished()
  if jax.process_index() == 0:
    write_checksums(step_directory(manager, step))


def step_directory(manager: ocp.CheckpointManager, step: int) -> str:
  return os.path.join(str(manager.directory), str(step))


def restore(manager: ocp.CheckpointManager, abstract_state: Any, data_iterator=None, step: int | None = None):
  """Restores the latest (or `step`) checkpoint into `abstract_state`'s structure and shardings.

  The iterator, if given, is moved to the saved position in place. Returns (state, step).
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f'{manager.directory}: no checkpoint')
  items = {'state': ocp.args.StandardRestore(abstract_state)}
  if data_iterator is not None:
    items['data_iter'] = grain.checkpoint.CheckpointRestore(data_iterator)
  restored = manager.restore(step, args=ocp.args.Composite(**items))
  return restored['state'], step


def _is_read_error(error: BaseException) -> bool:
  """Whether a restore failed reading files (truncated, missing, corrupt) rather than on a structure mismatch."""
  if isinstance(error, (OSError, EOFError)):
    return True
  text = str(error).lower()
  return any(word in text for word in ('tensorstore', 'corrupt', 'truncat', 'no such file', 'not found', 'unable to',
                                       'failed to read', 'checksum', 'decode', 'zarr', 'ocdbt'))


def _set_aside(manager: ocp.CheckpointManager, step: int) -> None:
  """Moves a damaged step folder to <workdir>/damaged_checkpoints/ (kept for inspection, out of orbax's way)."""
  if jax.process_index() != 0:
    return
  source = step_directory(manager, step)
  target_dir = workdir_layout.damaged_dir(os.path.dirname(str(manager.directory)))
  os.makedirs(target_dir, exist_ok=True)
  target = os.path.join(target_dir, str(step))
  if os.path.exists(target):
    shutil.rmtree(target)
  shutil.move(source, target)


def restore_readable(workdir: str, abstract_state: Any, data_iterator=None, *, max_to_keep: int = 3,
                     report: Callable[[str], None] | None = None) -> tuple[Any, int, ocp.CheckpointManager]:
  """Restores the newest readable checkpoint of `workdir`; damaged newer ones are reported and set aside.

  Returns (state, step, a manager of the checkpoints that remain). Raises CheckpointMismatchError when an intact
  checkpoint does not fit `abstract_state`, DamagedCheckpointError when none can be read.
  """
  report = report or (lambda line: print(line, file=sys.stderr, flush=True))
  manager = checkpoint_manager(workdir, max_to_keep=max_to_keep)
  problems = []
  for step in sorted(manager.all_steps(), reverse=True):
    status, detail = check_checksums(step_directory(manager, step))
    if status != 'damaged':
      try:
        state, step = restore(manager, abstract_state, data_iterator, step=step)
        if problems:  # orbax lists steps once: a fresh manager forgets the folders set aside
          manager.close()
          manager = checkpoint_manager(workdir, max_to_keep=max_to_keep)
        return state, step, manager
      except Exception as error:  # noqa: BLE001 (orbax and tensorstore raise many types on bad files)
        if status == 'unverified' and not _is_read_error(error):  # no checksums: only a read error is damage
          raise CheckpointMismatchError(
              f'{step_directory(manager, step)}: the checkpoint (written without checksums) reads but does not fit '
              f'this config\'s network or optimiser ({one_line(error, limit=200)}); train with the config that wrote '
              f'it or use another --workdir') from None
        if status == 'intact':
          raise CheckpointMismatchError(
              f'{step_directory(manager, step)}: the checkpoint is intact (checksums match) but does not fit this '
              f'config\'s network or optimiser ({one_line(error, limit=200)}); train with the config that wrote it or '
              f'use another --workdir') from None
        detail = f'unreadable ({one_line(error, limit=200)})'
    problems.append(f'step {step}: {detail}')
    report(f'checkpoint of step {step} in {workdir} is damaged ({detail}); trying the previous one')
    _set_aside(manager, step)
  raise DamagedCheckpointError(f'{workdir}: no checkpoint could be read ({"; ".join(problems) or "none found"}); '
                               f'the damaged ones are in {os.path.join(workdir, "damaged_checkpoints")}')
