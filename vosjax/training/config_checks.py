"""Checks of a training config and workdir that run before anything is written or compiled.

Each problem is a `ConfigError` naming the field (as a `--config.` override) and what would work.
"""

from __future__ import annotations

import os

import jax

from vosjax.models import ModelConfig
from vosjax.user_errors import ConfigError


def _require(condition: bool, field: str, message: str) -> None:
  if not condition:
    raise ConfigError(f'--config.{field}: {message}')


def check_workdir(workdir: str) -> None:
  """The workdir must be a folder or not exist yet (it is created later, after every other check)."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f'{workdir}: the workdir exists and is not a folder; give --workdir a folder')
  parent = os.path.dirname(os.path.abspath(workdir))
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
    raise ConfigError(f'{workdir}: cannot create the workdir ({parent} is not a writable folder)')


def check_training_config(config) -> None:
  """Values that cannot work: a schedule shorter than its warm-up, empty sizes, a batch that does not split."""
  train, optim, clip = config.train, config.optim, config.clip
  _require(train.num_steps >= 1, 'train.num_steps', f'must be at least 1, got {train.num_steps}')
  _require(train.batch_size >= 1, 'train.batch_size', f'must be at least 1, got {train.batch_size}')
  devices = jax.device_count()
  _require(train.batch_size % devices == 0, 'train.batch_size',
           f'{train.batch_size} does not split over the {devices} devices; use a multiple of {devices}')
  _require(optim.lr >= 0, 'optim.lr', f'must be >= 0 (0 keeps the initial parameters), got {optim.lr}')
  _require(optim.schedule in ('constant', 'cosine'), 'optim.schedule',
           f"must be 'constant' or 'cosine', got {optim.schedule!r}")
  if optim.schedule == 'cosine':
    _require(train.num_steps > optim.warmup_steps, 'train.num_steps',
             f'the cosine schedule decays after its {optim.warmup_steps} warm-up steps, so num_steps must be larger '
             f'(got {train.num_steps}); raise it or lower --config.optim.warmup_steps')
  for field in ('log_every', 'checkpoint_every', 'eval_every'):
    _require(train[field] >= 0, f'train.{field}', f'must be >= 0 (0 = never), got {train[field]}')
  _require(train.keep_checkpoints >= 1, 'train.keep_checkpoints', f'must be at least 1, got {train.keep_checkpoints}')
  _require(clip.num_frames >= 2, 'clip.num_frames', f'a clip needs at least 2 frames, got {clip.num_frames}')
  _require(clip.crop_size >= 16, 'clip.crop_size', f'must be at least 16 (the network\'s stride), got {clip.crop_size}')
  _require(clip.max_objects >= 1, 'clip.max_objects', f'must be at least 1, got {clip.max_objects}')
  _require(config.data.num_workers >= 0, 'data.num_workers', f'must be >= 0, got {config.data.num_workers}')
  try:
    ModelConfig.from_dict(config.model.to_dict())
  except (TypeError, ValueError) as error:
    raise ConfigError(f'--config.model: {error}') from None
