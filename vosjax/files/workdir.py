"""A training workdir's layout, in one place: what `train.py` writes there and where the other commands look.

    <workdir>/config.json                 the training config (written once, atomically, when the run starts)
    <workdir>/checkpoints/<step>/         orbax checkpoints, each with its checksum record
    <workdir>/damaged_checkpoints/<step>/ checkpoints set aside on resume because they could not be read
    <workdir>/metrics.jsonl               one JSON line per logged step (rewritten atomically on resume)
    <workdir>/tensorboard/                TensorBoard events
    <workdir>/eval/<split>/               `evaluate.py`'s masks, CSVs and statistics (default --out)
    <workdir>/baselines/<name>/<split>/   a baseline's, likewise

A checkpoint is named by its workdir (the latest step, or a given one) or by its step folder
(`<workdir>/checkpoints/<step>`); `locate` turns either into a `CheckpointLocation`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from vosjax.errors import UserError, one_line
from vosjax.files.atomic_write import write_text

CONFIG_FILE = 'config.json'
CHECKPOINTS_DIR = 'checkpoints'
DAMAGED_DIR = 'damaged_checkpoints'
METRICS_FILE = 'metrics.jsonl'
TENSORBOARD_DIR = 'tensorboard'


class CheckpointNotFoundError(UserError, FileNotFoundError):
  """A path is neither a training workdir with checkpoints nor a checkpoint folder."""


class WorkdirConfigError(UserError, ValueError):
  """A workdir's config.json that cannot be read."""


def config_path(workdir: str) -> str:
  return os.path.join(workdir, CONFIG_FILE)


def checkpoints_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), CHECKPOINTS_DIR)


def damaged_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), DAMAGED_DIR)


def metrics_path(workdir: str) -> str:
  return os.path.join(workdir, METRICS_FILE)


def tensorboard_dir(workdir: str) -> str:
  return os.path.join(workdir, TENSORBOARD_DIR)


def eval_dir(workdir: str, split: str) -> str:
  return os.path.join(workdir, 'eval', split)


def baseline_dir(workdir: str, baseline: str, split: str) -> str:
  return os.path.join(workdir, 'baselines', baseline, split)


def checkpoint_steps(directory: str) -> list[int]:
  """The steps saved in a checkpoints folder, oldest first ([] if there is none or no folder)."""
  if not os.path.isdir(directory):
    return []
  return sorted(int(name) for name in os.listdir(directory) if name.isdigit())


def has_checkpoints(workdir: str) -> bool:
  return bool(checkpoint_steps(checkpoints_dir(workdir)))


def read_config(workdir: str) -> dict[str, Any] | None:
  """The workdir's config.json as a dict; None where there is none (a workdir written by other code).

  Raises:
    WorkdirConfigError: the file exists but is not a JSON object (one line naming it).
  """
  path = config_path(workdir)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      config = json.load(f)
  except (OSError, ValueError) as error:
    raise WorkdirConfigError(f'{path}: cannot be read ({one_line(error, limit=200)})') from None
  if not isinstance(config, dict):
    raise WorkdirConfigError(f'{path}: not a training config (a JSON object)')
  return config


def write_config(workdir: str, config_json: str) -> None:
  """Writes config.json atomically (a killed run leaves the old file or the new one, never half of one)."""
  write_text(config_path(workdir), config_json)


def eval_short_side(config: dict[str, Any] | None) -> int:
  """The internal resolution a workdir's config evaluates at (`eval.short_side`; 0: native or not recorded)."""
  return int(((config or {}).get('eval') or {}).get('short_side') or 0)


@dataclasses.dataclass(frozen=True)
class CheckpointLocation:
  """workdir: the training workdir (holds config.json); directory: its checkpoints folder; step: the step to load."""

  workdir: str
  directory: str
  step: int


def is_step_folder(path: str) -> bool:
  """Whether `path` names one checkpoint (`<workdir>/checkpoints/<step>`) rather than a workdir."""
  path = os.path.abspath(path).rstrip(os.sep)
  return os.path.basename(path).isdigit() and os.path.basename(os.path.dirname(path)) == CHECKPOINTS_DIR


def locate(path: str, step: int | None = None) -> CheckpointLocation:
  """The checkpoint `path` names: a workdir (its latest, or `step`) or `<workdir>/checkpoints/<step>`.

  Raises:
    CheckpointNotFoundError: the path does not exist, has no checkpoints, or lacks `step`.
  """
  path = os.path.abspath(path).rstrip(os.sep)
  if not os.path.exists(path):
    raise CheckpointNotFoundError(f'{path}: no such workdir or checkpoint')
  if is_step_folder(path):
    parent = os.path.dirname(path)
    return CheckpointLocation(os.path.dirname(parent), parent, int(os.path.basename(path)))
  directory = checkpoints_dir(path)
  steps = checkpoint_steps(directory)
  if not steps:
    raise CheckpointNotFoundError(f'{path}: not a training workdir with checkpoints (expected {directory}/<step>/, '
                                  'written by train.py)')
  if step is not None and step not in steps:
    raise CheckpointNotFoundError(f'{directory}: no checkpoint of step {step} (have {steps})')
  return CheckpointLocation(path, directory, steps[-1] if step is None else step)
