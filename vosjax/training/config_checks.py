"""Checks of a training config and workdir that run before anything is written or compiled.

Each problem is a `ConfigError` naming the field (as a `--config.` override) and what would work.
"""

from __future__ import annotations

import json
import os

import jax

from vosjax.configs import base
from vosjax.models import ModelConfig
from vosjax.errors import ConfigError
from vosjax.files import workdir as workdir_layout
from vosjax.weights.packaged import PACKAGED, WeightsNotFoundError, resolve_weights


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
  _require(optim.frame_encoder_lr_scale >= 0, 'optim.frame_encoder_lr_scale',
           f'must be >= 0 (0 freezes the frame encoder), got {optim.frame_encoder_lr_scale}')
  _require(optim.frame_encoder_train_blocks < 0 or optim.frame_encoder_lr_scale > 0, 'optim.frame_encoder_train_blocks',
           f'trains the frame encoder\'s last {optim.frame_encoder_train_blocks} blocks, but '
           'optim.frame_encoder_lr_scale=0 freezes all of it: give the blocks a rate (e.g. 0.1)')
  for field in ('imagenet_frame_encoder', 'imagenet_mask_encoder'):
    if train[field]:
      try:
        resolve_weights(train[field])
      except WeightsNotFoundError as error:
        raise ConfigError(f'--config.train.{field}: {error}') from None
  _require(config.data.num_workers >= 0, 'data.num_workers', f'must be >= 0, got {config.data.num_workers}')
  try:
    model_config = ModelConfig.from_dict(config.model.to_dict())
  except (TypeError, ValueError) as error:
    raise ConfigError(f'--config.model: {error}') from None
  variant = getattr(model_config.frame_encoder, 'variant', None)  # an EfficientNet-Lite frame encoder
  weights = train.imagenet_frame_encoder
  if variant and weights in PACKAGED and weights != variant:  # packaged weights are named by their variant
    raise ConfigError(f'--config.train.imagenet_frame_encoder={weights}: the frame encoder is EfficientNet-{variant} '
                      f'(model.frame_encoder.variant); give --config.train.imagenet_frame_encoder={variant} with it')


# Fields a resumed run may change: how long it runs, how often it logs, saves and validates, and its workers.
RESUMABLE_FIELDS = ('train.num_steps', 'train.log_every', 'train.checkpoint_every', 'train.keep_checkpoints',
                    'train.eval_every', 'data.num_workers', 'eval.workers')


def _flatten(tree, prefix: str = '') -> dict:
  flat = {}
  for key, value in tree.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      flat.update(_flatten(value, name + '.'))
    else:
      flat[name] = list(value) if isinstance(value, tuple) else value
  return flat


def check_resume_config(config, workdir: str) -> bool:
  """Whether `workdir` is resumed (it has checkpoints); if so, that `config` is the one it trained with.

  The new config is compared with the workdir's config.json field by field; any difference outside
  RESUMABLE_FIELDS is refused, in one line naming the fields, before anything is written. A workdir whose
  checkpoints have no config.json beside them (written by other code) is resumed unchecked.
  """
  if not workdir_layout.has_checkpoints(workdir):
    return False
  try:
    stored = workdir_layout.read_config(workdir)
  except workdir_layout.WorkdirConfigError as error:
    raise ConfigError(f'{error}; the workdir cannot be resumed safely: use another --workdir') from None
  if stored is None:
    return True
  # A field the library added after the workdir was written reads as its default there. Only a field the given
  # config has is filled so: the defaults' own sections (the base network's encoder fields) are not the run's.
  defaults = _flatten(json.loads(base.get_config().to_json_best_effort()))
  given = _flatten(json.loads(config.to_json_best_effort()))
  stored = _flatten(stored)
  stored.update({name: defaults[name] for name in given if name not in stored and name in defaults})
  differ = [name for name in sorted(set(stored) | set(given))
            if name not in RESUMABLE_FIELDS and stored.get(name, '<absent>') != given.get(name, '<absent>')]
  if differ:
    shown = '; '.join(f'{name} (workdir: {stored.get(name, "<absent>")!r}, given: {given.get(name, "<absent>")!r})'
                      for name in differ[:6])
    more = f' and {len(differ) - 6} more' if len(differ) > 6 else ''
    raise ConfigError(f'{workdir}: resuming with another config than the one it trained with would continue a '
                      f'different experiment; it differs in {shown}{more}. Use the same config (only '
                      f'{", ".join(RESUMABLE_FIELDS)} may change) or another --workdir')
  return True
