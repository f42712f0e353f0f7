"""The training-time forward over a clip: frames encoded once, the tracker state threaded by `jax.lax.scan`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vosjax.models.vosnet import FrameFeatures, VOSNet


def memory_frames_in_clip(num_frames: int, memory_every: int) -> int:
  """Memory-bank slots a clip of `num_frames` fills (frames 0..T-2 are memorised, every `memory_every`-th)."""
  return len(range(0, num_frames - 1, memory_every))


def encode_clip(model: VOSNet, variables, frames: jax.Array, remat: bool = False) -> FrameFeatures:
  """Runs the frame encoder once on every frame of a clip.

  Args:
    frames: [B, T, H, W, 3] normalised RGB.
    remat: encode one time step at a time (`jax.lax.map`) with each step's activations recomputed in the backward
      pass, so the backward holds one time step's encoder activations instead of all T.

  Returns:
    FrameFeatures whose leaves are [B, T, ...].
  """
  batch, num_frames, height, width, _ = frames.shape
  encode = lambda x: model.apply(variables, x, method=VOSNet.encode_frame)
  if not remat:
    features = encode(frames.reshape(batch * num_frames, height, width, 3))
    return jax.tree.map(lambda x: x.reshape((batch, num_frames) + x.shape[1:]), features)
  # A loop, not unrolled: in unrolled code XLA's scheduler runs every frame's forward pass before the backward ones
  # and the saving is lost (measured: 38.2 GiB instead of 5.96 for the paper's setting, benchmarks/train_memory.py).
  features = jax.lax.map(jax.checkpoint(encode), jnp.moveaxis(frames, 1, 0))
  return jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), features)


def unroll_clip(model: VOSNet, variables, frames: jax.Array, first_masks: jax.Array, object_valid: jax.Array,
                new_masks: jax.Array | None = None, new_objects: jax.Array | None = None,
                remat: bool = False, unroll: bool | None = None) -> jax.Array:
  """Segments frames 1..T-1 of a clip from the masks of frame 0, as frame-by-frame inference would.

  All T frames go through the frame encoder in one batch (each frame once). The state (GAM's context or the memory
  bank, and MEM's history) is the carry of a `jax.lax.scan` over frames 1..T-2, each step segmenting a frame and
  memorising it with its own soft prediction (gradients flow through it); the last frame is segmented without
  running the mask encoder, whose result nothing would read.

  Args:
    model: the network.
    variables: its variables ({'params': ..., 'batch_stats': ...}).
    frames: [B, T, H, W, 3] normalised RGB, T >= 2.
    first_masks: [B, K, H, W] the masks of the objects present in frame 0.
    object_valid: [B, K] bool, the objects present in frame 0 (the other slots are padding or join later).
    new_masks: optional [B, T, K, H, W] given masks of objects that join mid-clip (frame 0's entry is unused).
    new_objects: optional [B, T, K] bool, which slots join at which frame.
    remat: recompute activations in the backward pass instead of storing them (less memory for long clips at high
      resolution, about one more forward pass of compute): the frame encoder then runs frame by frame under
      `jax.lax.map`, keeping only each frame's features, and each scan step keeps only its carry.
    unroll: unroll the scan over the clip (XLA compiles straight-line code; the same result). On XLA's CPU backend a
      while loop whose body holds convolutions ran their backward pass about 3x slower than unrolled code, but
      unrolled code loses remat's memory saving (XLA schedules all forward passes first). Default: `not remat`.

  Returns:
    [B, T - 1, K + 1, H, W] float32 logits of frames 1..T-1 (channel 0: background).
  """
  batch, num_frames, height, width, _ = frames.shape
  if num_frames < 2:
    raise ValueError(f'a clip needs at least 2 frames, got {num_frames}')
  if (new_masks is None) != (new_objects is None):
    raise ValueError('new_masks and new_objects go together')
  features = encode_clip(model, variables, frames, remat)
  capacity = memory_frames_in_clip(num_frames, model.config.memory_every)
  if new_objects is not None:
    capacity = num_frames - 1  # joins may add memory frames; this bound fits any clip
  first = jax.tree.map(lambda x: x[:, 0], features)
  state = model.apply(variables, first, frames[:, 0], first_masks, object_valid, capacity, method=VOSNet.init_state)

  time_major = lambda x: jnp.moveaxis(x, 1, 0)
  per_frame = {'features': features, 'frame': frames}
  if new_masks is not None:
    per_frame.update(new_masks=new_masks, new_objects=new_objects)
  per_frame = jax.tree.map(lambda x: time_major(x[:, 1:]), per_frame)  # frames 1..T-1, time-major

  def step(carry, inputs, store):
    return model.apply(variables, carry, inputs['features'], inputs['frame'], inputs.get('new_masks'),
                       inputs.get('new_objects'), store, method=VOSNet.step_from_features)

  body = lambda c, x: step(c, x, True)
  if unroll is None:
    unroll = not remat
  if remat:
    body = jax.checkpoint(body)
  logits = []
  if num_frames > 2:
    middle = jax.tree.map(lambda x: x[:-1], per_frame)
    if unroll and num_frames == 3:  # scan(unroll=True) over one step keeps XLA's while loop: call the body instead
      state, middle_logits = body(state, jax.tree.map(lambda x: x[0], middle))
      middle_logits = middle_logits[None]
    else:
      state, middle_logits = jax.lax.scan(body, state, middle, unroll=unroll)
    logits.append(middle_logits)
  _, last_logits = step(state, jax.tree.map(lambda x: x[-1], per_frame), False)
  logits.append(last_logits[None])
  return jnp.moveaxis(jnp.concatenate(logits, axis=0), 0, 1)


__all__ = ['FrameFeatures', 'encode_clip', 'memory_frames_in_clip', 'unroll_clip']
