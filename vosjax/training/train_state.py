"""The train state and the optimiser (Adam; batch-norm statistics frozen; BN affine trainable or frozen)."""

from __future__ import annotations

from typing import Any

import flax
import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """Everything a training step reads and writes.

  Attributes:
    step: [] int32, steps taken.
    params: the trainable parameters (VOSNet's 'params' collection).
    batch_stats: batch-norm running statistics; never updated (the paper's frozen BN).
    opt_state: the optimiser's state.
  """

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any

  @property
  def variables(self) -> dict:
    return {'params': self.params, 'batch_stats': self.batch_stats}


def _is_batch_norm(path: tuple[str, ...]) -> bool:
  return any(name.startswith('bn') or name == 'downsample_1' for name in path)


def batch_norm_labels(params) -> Any:
  """A pytree like `params` labelling each leaf 'bn' (a batch-norm scale/bias) or 'other'."""
  return parameter_groups(params)


def learning_rate_schedule(learning_rate: float, schedule: str = 'constant', num_steps: int = 0,
                           warmup_steps: int = 0) -> optax.Schedule:
  """The learning rate at each step.

  Args:
    learning_rate: the peak rate (the paper: a constant 1e-5).
    schedule: 'constant', or 'cosine' (linear warm-up over `warmup_steps`, then cosine decay to 0 at `num_steps`).
  """
  if schedule == 'constant':
    return optax.constant_schedule(learning_rate)
  if schedule == 'cosine':
    if num_steps <= warmup_steps:
      raise ValueError(f'the cosine schedule needs num_steps ({num_steps}) > warmup_steps ({warmup_steps})')
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, num_steps)
  raise ValueError(f"unknown learning-rate schedule {schedule!r} (expected 'constant' or 'cosine')")


def _frozen_encoder_paths(flat: dict, train_blocks: int) -> set:
  """The frame encoder's parameter paths that stay frozen when only its last `train_blocks` blocks train."""
  if train_blocks < 0:
    return set()
  blocks = sorted({int(path[1][len('blocks_'):]) for path in flat
                   if path[0] == 'frame_encoder' and path[1].startswith('blocks_')})
  if not blocks:
    raise ValueError('optim.frame_encoder_train_blocks needs a frame encoder made of numbered blocks (an '
                     'EfficientNet-Lite: blocks_0, blocks_1, ...); this one has none')
  trained = {f'blocks_{index}' for index in blocks[len(blocks) - train_blocks:]} if train_blocks else set()
  return {path for path in flat if path[0] == 'frame_encoder' and path[1] not in trained}


def parameter_groups(params, frame_encoder_separate: bool = False, frame_encoder_train_blocks: int = -1) -> Any:
  """A pytree like `params` labelling each leaf 'frozen' (a frame encoder parameter outside its last
  `frame_encoder_train_blocks` blocks, when that is >= 0), 'frame_encoder' (when `frame_encoder_separate`), else 'bn'
  (a batch-norm scale/bias) or 'other'."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  frozen = _frozen_encoder_paths(flat, frame_encoder_train_blocks)
  label = lambda path: ('frozen' if path in frozen
                        else 'frame_encoder' if frame_encoder_separate and path[0] == 'frame_encoder'
                        else 'bn' if _is_batch_norm(path) else 'other')
  return flax.traverse_util.unflatten_dict({path: label(path) for path in flat})


def stop_frozen_gradients(params, frame_encoder_train_blocks: int) -> Any:
  """`params` with the gradient stopped at the frame encoder's frozen parameters (see `parameter_groups`), so that
  no backward pass runs through the blocks before the trained ones."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  frozen = _frozen_encoder_paths(flat, frame_encoder_train_blocks)
  return flax.traverse_util.unflatten_dict(
      {path: jax.lax.stop_gradient(leaf) if path in frozen else leaf for path, leaf in flat.items()})


def make_optimizer(learning_rate: float | optax.Schedule, train_batch_norm_affine: bool = True,
                   clip_grad_norm: float | None = None,
                   frame_encoder_lr_scale: float = 1.0,
                   frame_encoder_train_blocks: int = -1) -> optax.GradientTransformation:
  """Adam at `learning_rate` (a rate or a schedule; paper: 1e-5), optionally leaving the BN scale and bias alone.

  `frame_encoder_lr_scale` multiplies the frame encoder's updates (BN included): 0 freezes it entirely (pretrained
  features kept as they are; the train step then also skips its backward pass), 1 trains it like the rest.
  `frame_encoder_train_blocks` >= 0 trains only the encoder's last that many blocks (at the scaled rate) and freezes
  its stem and earlier blocks; -1 applies the scale to all of it.
  """
  if not callable(learning_rate):  # the optimiser state then has the same structure for every schedule
    learning_rate = optax.constant_schedule(learning_rate)
  chain = [optax.clip_by_global_norm(clip_grad_norm)] if clip_grad_norm else []
  adam = optax.chain(*chain, optax.adam(learning_rate))
  if train_batch_norm_affine and frame_encoder_lr_scale == 1.0 and frame_encoder_train_blocks < 0:
    return adam
  transforms = {'other': adam, 'bn': adam if train_batch_norm_affine else optax.set_to_zero()}
  separate = frame_encoder_lr_scale != 1.0
  if separate:
    transforms['frame_encoder'] = (optax.set_to_zero() if frame_encoder_lr_scale == 0
                                   else optax.chain(optax.adam(learning_rate), optax.scale(frame_encoder_lr_scale)))
  if frame_encoder_train_blocks >= 0:
    transforms['frozen'] = optax.set_to_zero()
  return optax.multi_transform(
      transforms, lambda params: parameter_groups(params, separate, frame_encoder_train_blocks))


def create_train_state(variables: dict, optimizer: optax.GradientTransformation) -> TrainState:
  """A state at step 0 from network variables ({'params', 'batch_stats'})."""
  return TrainState(step=jnp.zeros((), jnp.int32), params=variables['params'],
                    batch_stats=variables['batch_stats'], opt_state=optimizer.init(variables['params']))
