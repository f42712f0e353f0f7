"""The STM-style decoder: stride-16 matching features refined with skips from stride 8 and 4, then upsampled.

The skip branches (a 3x3 conv and a residual block on the frame features, STM's `convFS`/`ResFS`) depend on the
frame only, so they run once per frame (`SkipProjection`) and are shared by every object; the per-object part
(`Decoder`) adds them by broadcasting (no per-object copies).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vosjax.models.residual import ResidualBlock


@functools.lru_cache(maxsize=64)
def _interpolation_taps(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Bilinear taps with half-pixel centres, edges clamped (jax.image.resize's 'bilinear' when upsampling; torch's
  align_corners=False): output i = (1 - fraction[i]) * input[low[i]] + fraction[i] * input[high[i]]."""
  source = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
  low = np.floor(source).astype(np.int32)
  high = np.minimum(low + 1, in_size - 1).astype(np.int32)
  return low, high, (source - low).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _interpolation_matrix(out_size: int, in_size: int) -> np.ndarray:
  """The same taps as an [out, in] matrix (what the gradient multiplies by)."""
  low, high, fraction = _interpolation_taps(out_size, in_size)
  matrix = np.zeros((out_size, in_size), np.float32)
  np.add.at(matrix, (np.arange(out_size), low), 1 - fraction)
  np.add.at(matrix, (np.arange(out_size), high), fraction)
  return matrix


def _two_tap(x: jax.Array, out_size: int, axis: int) -> jax.Array:
  low, high, fraction = _interpolation_taps(out_size, x.shape[axis])
  shape = [1] * x.ndim
  shape[axis] = out_size
  fraction = jnp.asarray(fraction, x.dtype).reshape(shape)
  return jnp.take(x, low, axis=axis) * (1 - fraction) + jnp.take(x, high, axis=axis) * fraction


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def resize_to(x: jax.Array, height: int, width: int) -> jax.Array:
  """Bilinear upsampling of [B, h, w, C] to [B, height, width, C].

  Same numbers as `jax.image.resize(..., 'bilinear')` for upsampling. The forward pass reads two input pixels per
  output pixel and axis (a few multiply-adds per output value, where interpolation matrices cost h + w per value:
  about 1 GMAC per object at 480p); the gradient is the transposed matrices' product rather than the scatter-add a
  gather's gradient would be, which XLA compiles and runs much faster on CPU. (Downsampling would need
  antialiasing: refused.)
  """
  if height < x.shape[1] or width < x.shape[2]:
    raise ValueError(f'resize_to upsamples only: {x.shape[1:3]} -> {(height, width)}')
  return _two_tap(_two_tap(x, height, 1), width, 2)


def _resize_forward(x, height, width):
  return resize_to(x, height, width), x.shape[1:3]


def _resize_backward(height, width, input_size, grad):
  rows = jnp.asarray(_interpolation_matrix(height, input_size[0]), grad.dtype)
  cols = jnp.asarray(_interpolation_matrix(width, input_size[1]), grad.dtype)
  return (jnp.einsum('Hh,bHWc,Ww->bhwc', rows, grad, cols),)


resize_to.defvjp(_resize_forward, _resize_backward)


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
      skip8: [B, h8, w8, up_features[0]] projected stride-8 frame features, shared by the objects of a frame
        (added by broadcasting; B' must be a multiple of B).
      skip4: [B, h4, w4, up_features[1]] projected stride-4 frame features.
      out_height, out_width: the input frame's size.

    Returns:
      [B', out_height, out_width] float32 logits.
    """
    x = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name='compress')(x.astype(self.dtype))
    x = ResidualBlock(self.features, dtype=self.dtype, name='compress_res')(x)
    for index, (skip, channels) in enumerate(zip((skip8, skip4), self.up_features)):
      if x.shape[-1] != channels:
        x = nn.Conv(channels, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=f'up{index}_in')(x)
      upsampled = resize_to(x, skip.shape[1], skip.shape[2])
      per_frame = upsampled.reshape((skip.shape[0], -1) + upsampled.shape[1:])  # [B, K, h, w, C]
      x = (per_frame + skip.astype(self.dtype)[:, None]).reshape(upsampled.shape)
      x = ResidualBlock(channels, dtype=self.dtype, name=f'up{index}_res')(x)
    logits = nn.Conv(1, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name='predict')(nn.relu(x))
    logits = resize_to(logits.astype(jnp.float32), out_height, out_width)
    return logits[..., 0]
