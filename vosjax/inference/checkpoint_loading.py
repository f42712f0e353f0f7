"""Loading a trained network for inference from a training workdir or one of its checkpoints.

Only the network's variables are read (orbax partial restore): the optimiser state, whatever its structure, stays on
disk. The network's architecture comes from the workdir's `config.json` (written by `train.py`) unless the caller
gives one.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable

import jax

from vosjax.models import ModelConfig, VOSNet, init_variables
from vosjax.files.checkpoint_integrity import (DamagedCheckpointError, VariablesMismatchError, check_checksums,
                                               read_variables)
from vosjax.errors import UserError, one_line
from vosjax.files import workdir as workdir_layout
from vosjax.files.workdir import CheckpointLocation, CheckpointNotFoundError

__all__ = ['CheckpointLocation', 'CheckpointNotFoundError', 'NetworkMismatchError', 'check_trained_network',
           'load_network', 'restore_variables', 'workdir_model_config']


class NetworkMismatchError(UserError, ValueError):
  """The network asked for is not the one the workdir trained."""


# ModelConfig fields that do not change what the trained variables mean: free to differ at inference (the memory
# bank's read has no parameters, so which frames it keeps and how many matches a query reads may change).
INFERENCE_FIELDS = ('dtype', 'matcher', 'memory_every', 'memory_bucket', 'memory_recent', 'memory_long',
                    'memory_long_every', 'memory_top_k', 'memory_local_radius')


def check_trained_network(model_config: ModelConfig, workdir: str) -> None:
  """Raises NetworkMismatchError naming the fields where `model_config` differs from the workdir's config.json.

  A workdir without config.json (made by other code) is not checked. Fields in INFERENCE_FIELDS may differ.
  """
  if workdir_layout.read_config(workdir) is None:
    return
  trained = workdir_model_config(workdir)
  differ = [f'{field.name} (trained: {getattr(trained, field.name)!r}, given: {getattr(model_config, field.name)!r})'
            for field in dataclasses.fields(ModelConfig)
            if field.name not in INFERENCE_FIELDS and getattr(trained, field.name) != getattr(model_config, field.name)]
  if differ:
    raise NetworkMismatchError(f'{workdir_layout.config_path(workdir)}: the workdir trained another network than the '
                               f'config given; it differs in {"; ".join(differ)}. Pass the config it was trained with '
                               f'(e.g. --config configs/main.py for runs of configs/main.py).')


def workdir_model_config(workdir: str) -> ModelConfig:
  """The network a training workdir trained (its config.json's `model` block)."""
  path = workdir_layout.config_path(workdir)
  try:
    config = workdir_layout.read_config(workdir)
  except workdir_layout.WorkdirConfigError as error:
    raise CheckpointNotFoundError(str(error)) from None
  if config is None:
    raise CheckpointNotFoundError(f'{path}: missing; the workdir\'s network is unknown (pass its config)')
  try:
    return ModelConfig.from_dict(config['model'])
  except (KeyError, TypeError, ValueError) as error:
    raise CheckpointNotFoundError(f'{path}: not a vosjax training config ({one_line(error, limit=200)})') from None


def restore_variables(model: VOSNet, location: CheckpointLocation) -> dict:
  """{'params', 'batch_stats'} of `model` from a checkpoint, as host arrays (shapes checked against the model).

  Raises DamagedCheckpointError when orbax cannot read it, NetworkMismatchError when a shape differs.
  """
  try:
    return read_variables(location.directory, location.step, jax.eval_shape(lambda: init_variables(model)))
  except VariablesMismatchError as error:
    raise NetworkMismatchError(str(error)) from None


def _readable_variables(model: VOSNet, location: CheckpointLocation, explicit: bool,
                        report: Callable[[str], None]) -> tuple[dict, CheckpointLocation]:
  """The variables of the newest readable checkpoint (only `location` itself when the caller named the step)."""
  steps = workdir_layout.checkpoint_steps(location.directory)
  candidates = [location.step] if explicit else [s for s in reversed(steps) if s <= location.step]
  problems = []
  for step in candidates:
    candidate = dataclasses.replace(location, step=step)
    status, detail = check_checksums(os.path.join(location.directory, str(step)))
    try:
      if status == 'damaged':
        raise DamagedCheckpointError(f'{location.directory}/{step}: {detail}')
      variables = restore_variables(model, candidate)
    except DamagedCheckpointError as error:
      if status == 'intact':  # the files are as saved: the checkpoint holds something else than this network
        raise NetworkMismatchError(f'{location.directory}/{step}: the checkpoint is intact (checksums match) but does '
                                   f'not hold this network\'s variables; pass the config it was trained with') from None
      if explicit:
        raise
      problems.append(f'step {step}')
      report(f'{error}; the checkpoint is damaged, trying the previous one')
      continue
    if problems:
      report(f'using the checkpoint of step {step} ({", ".join(problems)} damaged)')
    return variables, candidate
  raise DamagedCheckpointError(f'{location.directory}: no checkpoint could be read ({", ".join(problems)})')


def load_network(path: str, *, step: int | None = None, model_config: ModelConfig | None = None,
                 report: Callable[[str], None] | None = None, **overrides) -> tuple[VOSNet, dict, CheckpointLocation]:
  """(network, variables, location) of a workdir's latest readable checkpoint (or `step`, or a step folder).

  Args:
    path: a training workdir or `<workdir>/checkpoints/<step>`.
    step: the step to load; with none, a damaged latest checkpoint is reported and the next older one used.
    model_config: the architecture (default: the workdir's config.json; if given, it must match config.json's but for
      INFERENCE_FIELDS, else NetworkMismatchError).
    report: where one-line notes about damaged checkpoints go (default: stderr).
    **overrides: ModelConfig fields to change that do not change the variables (e.g. dtype='bfloat16').
  """
  location = workdir_layout.locate(path, step)
  if model_config is not None:
    check_trained_network(model_config, location.workdir)
  config = model_config or workdir_model_config(location.workdir)
  model = VOSNet(dataclasses.replace(config, **overrides))
  explicit = step is not None or workdir_layout.is_step_folder(path)
  report = report or (lambda line: print(line, file=sys.stderr, flush=True))
  variables, location = _readable_variables(model, location, explicit, report)
  return model, variables, location
