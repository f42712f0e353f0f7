"""The training-time forward over a clip: frames encoded once, the tracker state threaded by `jax.lax.scan`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vosjax.models.vosnet import FrameFeatures, VOSNet


def memory_frames_in_clip(num_frames: int, memory_every: int) -> int:
  """Memory-bank slots a clip of `num_frames` fills (frames 0..T-2 are memorised, every `memory_every`-th)."""
  return len(range(0, num_frames - 1, memory_every))


def unroll_clip(model: VOSNet, variables, frames: jax.Array, first_masks: jax.Array,
                object_valid: jax.Array) -> jax.Array:
  """Segments frames 1..T-1 of a clip from the masks of frame 0, as frame-by-frame inference would.

  All T frames go through the frame encoder in one batch (each frame once). The state (GAM's context or the memory
  bank, and MEM's history) is the carry of a `jax.lax.scan` over frames 1..T-2, each step segmenting a frame and
  memorising it with its own soft prediction (gradients flow through it); the last frame is only segmented.

  Args:
    model: the network.
    variables: its variables ({'params': ..., 'batch_stats': ...}).
    frames: [B, T, H, W, 3] normalised RGB, T >= 2.
    first_masks: [B, K, H, W] the objects' masks in frame 0.
    object_valid: [B, K] bool, real objects (the others are padding).

  Returns:
    [B, T - 1, K + 1, H, W] float32 logits of frames 1..T-1 (channel 0: background).
  """
  batch, num_frames, height, width, _ = frames.shape
  if num_frames < 2:
    raise ValueError(f'a clip needs at least 2 frames, got {num_frames}')
  features = model.apply(variables, frames.reshape(batch * num_frames, height, width, 3),
                         method=VOSNet.encode_frame)
  features = jax.tree.map(lambda x: x.reshape((batch, num_frames) + x.shape[1:]), features)
  at = lambda t: jax.tree.map(lambda x: x[:, t], features)
  capacity = memory_frames_in_clip(num_frames, model.config.memory_every)
  state = model.apply(variables, at(0), frames[:, 0], first_masks, object_valid, capacity,
                      method=VOSNet.init_state)

  def body(carry, inputs):
    frame_features, frame = inputs
    return model.apply(variables, carry, frame_features, frame, method=VOSNet.step_from_features)

  time_major = lambda x: jnp.moveaxis(x, 1, 0)
  middle = jax.tree.map(lambda x: time_major(x[:, 1:-1]), features)
  logits = []
  if num_frames > 2:
    state, middle_logits = jax.lax.scan(body, state, (middle, time_major(frames[:, 1:-1])))
    logits.append(middle_logits)
  last_state = state.replace(frame_index=state.frame_index + 1)
  last_logits = model.apply(variables, last_state, at(num_frames - 1), method=VOSNet.segment)
  logits.append(last_logits[None])
  return jnp.moveaxis(jnp.concatenate(logits, axis=0), 0, 1)


__all__ = ['FrameFeatures', 'memory_frames_in_clip', 'unroll_clip']
