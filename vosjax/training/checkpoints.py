"""Orbax checkpoints of the train state together with the grain iterator's position.

Saves are atomic (written to a temporary folder, then renamed), so a run killed mid-save resumes from the previous
checkpoint. The state is restored into an abstract target (`jax.eval_shape` of the state with its shardings), so
optimiser states come back with their types and arrays with their shardings.
"""

from __future__ import annotations

import os
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp


def checkpoint_manager(workdir: str, *, max_to_keep: int = 3) -> ocp.CheckpointManager:
  """The manager of `<workdir>/checkpoints`, keeping the last `max_to_keep` checkpoints."""
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), 'checkpoints'), options=options)


def save(manager: ocp.CheckpointManager, step: int, state: Any, data_iterator=None) -> None:
  """Saves the state (and the iterator position, if given) at `step`; asynchronous, see `manager.wait_until_finished`."""
  items = {'state': ocp.args.StandardSave(state)}
  if data_iterator is not None:
    items['data_iter'] = grain.checkpoint.CheckpointSave(data_iterator)
  manager.save(step, args=ocp.args.Composite(**items), force=True)


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


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs (with shardings) of a concrete pytree."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, 'sharding', None)), tree)
