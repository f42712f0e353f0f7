"""Where a frame meets the network: an optional internal resolution, padding to the network's stride, and back.

A 1080p or 2K frame can be segmented at an internal resolution (its shorter side scaled down to e.g. 480 pixels);
the network's input is then padded (edge pixels repeated) to a multiple of its stride, and its output is cropped
and upsampled back to the frame's own size, so callers only ever see original-size frames and label maps.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from vosjax.data.augment import normalize_frames

NETWORK_STRIDE = 16  # the frame encoder's coarsest stride (ResNet layer3)


@dataclasses.dataclass(frozen=True)
class FrameGeometry:
  """Sizes of one video's frames on the way through the network (hashable: a static jit argument).

  Attributes:
    original: (H, W) of the video's frames.
    internal: (h, w) the frame is resized to (equal to `original` at native resolution).
    padded: (h_p, w_p) >= internal, multiples of the network's stride: the network's input size.
  """

  original: tuple[int, int]
  internal: tuple[int, int]
  padded: tuple[int, int]

  @classmethod
  def for_frame(cls, height: int, width: int, short_side: int | None = None,
                stride: int = NETWORK_STRIDE) -> 'FrameGeometry':
    """The geometry of an H x W video; `short_side` scales larger frames down so that min(h, w) == short_side."""
    if height < 1 or width < 1:
      raise ValueError(f'a frame must have a positive size, got {height}x{width}')
    internal = (height, width)
    if short_side and min(height, width) > short_side:
      scale = short_side / min(height, width)
      internal = (max(1, round(height * scale)), max(1, round(width * scale)))
    padded = tuple(stride * math.ceil(n / stride) for n in internal)
    return cls(original=(height, width), internal=internal, padded=padded)

  @property
  def resized(self) -> bool:
    return self.internal != self.original


def network_frame(frame: jax.Array, geometry: FrameGeometry) -> jax.Array:
  """[H, W, 3] uint8 RGB -> [h_p, w_p, 3] ImageNet-normalised float32 (resized, edge-padded)."""
  x = normalize_frames(frame)
  if geometry.resized:
    x = jax.image.resize(x, geometry.internal + (3,), 'linear', antialias=True)
  (h, w), (hp, wp) = geometry.internal, geometry.padded
  return jnp.pad(x, ((0, hp - h), (0, wp - w), (0, 0)), mode='edge')


def network_masks(masks: jax.Array, geometry: FrameGeometry) -> jax.Array:
  """[K, H, W] masks (0/1 or soft) -> [K, h_p, w_p] float32 (resized, zero-padded: nothing in the padding)."""
  x = masks.astype(jnp.float32)
  if geometry.resized:
    x = jax.image.resize(x, (x.shape[0],) + geometry.internal, 'linear', antialias=True)
  (h, w), (hp, wp) = geometry.internal, geometry.padded
  return jnp.pad(x, ((0, 0), (0, hp - h), (0, wp - w)))


def original_probabilities(logits: jax.Array, geometry: FrameGeometry) -> jax.Array:
  """[K + 1, h_p, w_p] logits -> [K + 1, H, W] probabilities (padding cropped, upsampled to the frame's size)."""
  h, w = geometry.internal
  probs = jax.nn.softmax(logits[:, :h, :w].astype(jnp.float32), axis=0)
  if geometry.resized:
    probs = jax.image.resize(probs, (probs.shape[0],) + geometry.original, 'linear')
  return probs
