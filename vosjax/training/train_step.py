"""One training step over a batch of clips: the clip unrolled with `jax.lax.scan`, the loss, Adam."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from vosjax.data.augment import normalize_frames
from vosjax.data.labels import first_frame_masks
from vosjax.models import VOSNet, unroll_clip
from vosjax.training.loss import mean_iou, segmentation_loss
from vosjax.training.train_state import TrainState, stop_frozen_gradients


def make_train_step(model: VOSNet, optimizer: optax.GradientTransformation, *, bootstrap_fraction: float = 1.0,
                    bootstrap_ramp_steps: int = 0,
                    remat: bool = False,
                    freeze_frame_encoder: bool = False,
                    frame_encoder_train_blocks: int = -1) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
  """Builds `train_step(state, batch) -> (state, metrics)` (pure; jit it with the shardings of the caller).

  The batch is the pipeline's: 'frames' [B, T, S, S, 3] uint8, 'labels' [B, T, S, S] uint8, 'object_valid' [B, K].
  Frame 0's labels are the given masks; the loss covers frames 1..T-1. Batch-norm statistics are read, never
  written. Metrics stay on the device: 'loss', 'iou', 'grad_norm'. `freeze_frame_encoder` stops gradients at the
  frame encoder's parameters (pair it with an optimiser that leaves them alone), so no backward pass runs through it;
  `frame_encoder_train_blocks` >= 0 stops them everywhere but in the encoder's last that many blocks (the same
  argument as `make_optimizer`'s). With `bootstrap_fraction` < 1, the loss moves linearly from the plain per-pixel
  mean at step 0 to the bootstrapped one at `bootstrap_ramp_steps` (0: bootstrapped from the start).
  """

  def train_step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    frames = normalize_frames(batch['frames'])
    labels = batch['labels'].astype(jnp.int32)
    object_valid = batch['object_valid'].astype(bool)
    first_masks = first_frame_masks(labels, object_valid.shape[1])
    if bootstrap_ramp_steps > 0:
      bootstrap_weight = jnp.clip(state.step.astype(jnp.float32) / bootstrap_ramp_steps, 0.0, 1.0)
    else:
      bootstrap_weight = 1.0

    def loss_fn(params):
      if freeze_frame_encoder:
        params = dict(params, frame_encoder=jax.lax.stop_gradient(params['frame_encoder']))
      elif frame_encoder_train_blocks >= 0:
        params = stop_frozen_gradients(params, frame_encoder_train_blocks)
      variables = {'params': params, 'batch_stats': state.batch_stats}
      logits = unroll_clip(model, variables, frames, first_masks, object_valid, remat=remat)
      return segmentation_loss(logits, labels[:, 1:], bootstrap_fraction, bootstrap_weight), logits


    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {'loss': loss, 'iou': mean_iou(logits, labels[:, 1:], object_valid),
               'grad_norm': optax.tree.norm(grads)}
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

  return train_step
