"""The STM-style decoder: stride-16 matching features refined with skips from stride 8 and 4, then upsampled.

The skip branches (a 3x3 conv and a residual block on the frame features, STM's `convFS`/`ResFS`) depend on the
frame only, so they run once per frame (`SkipProjection`) and are shared by every object; the per-object part
(`Decoder`) sees them broadcast.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vosjax.models.residual import ResidualBlock


@functools.lru_cache(maxsize=64)
def _interpolation_matrix(out_size: int, in_size: int) -> np.ndarray:
  """[out, in] bilinear weights with half-pixel centres, edges clamped (jax.image.resize's 'bilinear' when
  upsampling; torch's align_corners=False)."""
  source = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
  low = np.floor(source).astype(int)
  high = np.minimum(low + 1, in_size - 1)
  fraction = source - low
  matrix = np.zeros((out_size, in_size), np.float32)
  np.add.at(matrix, (np.arange(out_size), low), 1 - fraction)
  np.add.at(matrix, (np.arange(out_size), high), fraction)
  return matrix


def resize_to(x: jax.Array, height: int, width: int) -> jax.Array:
  """Bilinear upsampling of [B, h, w, C] to [B, height, width, C] as two matrix products.

  Same numbers as `jax.image.resize(..., 'bilinear')` for upsampling, but its gradient is a matmul rather than
  a scatter-add, which XLA compiles and runs much faster on CPU. (Downsampling would need antialiasing: refused.)
  """
  if height < x.shape[1] or width < x.shape[2]:
    raise ValueError(f'resize_to upsamples only: {x.shape[1:3]} -> {(height, width)}')
  rows = jnp.asarray(_interpolation_matrix(height, x.shape[1]), x.dtype)
  cols = jnp.asarray(_interpolation_matrix(width, x.shape[2]), x.dtype)
  return jnp.einsum('Hh,bhwc,Ww->bHWc', rows, x, cols)


class SkipProjection(nn.Module):
  """Frame-level half of a refinement block: conv + residual block on an encoder stage."""

  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, skip: jax.Array) -> jax.Array:
    """[B, h, w, C_stage] -> [B, h, w, features]."""
    x = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name='conv')(skip)
    return ResidualBlock(self.features, dtype=self.dtype, name='res')(x)


class Decoder(nn.Module):
  """Per-object decoder.

  Attributes:
    features: channels of the stride-16 block.
    up_features: channels after the stride-8 and stride-4 refinements (must match the SkipProjections).
  """

  features: int
  up_features: tuple[int, int]
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, skip8: jax.Array, skip4: jax.Array, out_height: int, out_width: int) -> jax.Array:
    """Decodes one logit map per object.

    Args:
      x: [B', h16, w16, C] matching (and MEM) features, B' = batch * objects.
      skip8: [B', h8, w8, up_features[0]] projected stride-8 frame features.
      skip4: [B', h4, w4, up_features[1]] projected stride-4 frame features.
      out_height, out_width: the input frame's size.

    Returns:
      [B', out_height, out_width] float32 logits.
    """
    x = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name='compress')(x.astype(self.dtype))
    x = ResidualBlock(self.features, dtype=self.dtype, name='compress_res')(x)
    for index, (skip, channels) in enumerate(zip((skip8, skip4), self.up_features)):
      if x.shape[-1] != channels:
        x = nn.Conv(channels, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'up{index}_in')(x)
      x = skip.astype(self.dtype) + resize_to(x, skip.shape[1], skip.shape[2])
      x = ResidualBlock(channels, dtype=self.dtype, name=f'up{index}_res')(x)
    logits = nn.Conv(1, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name='predict')(nn.relu(x))
    logits = resize_to(logits.astype(jnp.float32), out_height, out_width)
    return logits[..., 0]
