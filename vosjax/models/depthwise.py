"""Depthwise convolution written as a sum of shifted, strided slices, and TF's 'SAME' padding.

On XLA's CPU backend a grouped convolution with one group per channel (`feature_group_count=C`) misses the fast
convolution kernels; the same arithmetic written as k*k strided slices of the padded input, each times its tap's
per-channel weights, compiles to one elementwise fusion (and its gradients to elementwise products and reductions).
`benchmarks/depthwise.py` times both forms, forward and forward + backward; `tests/test_efficientnet.py` checks them
equal.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """TF 'SAME' padding of one spatial axis: the output has ceil(size / stride) positions; an odd total pads more
  after than before (asymmetric for stride 2)."""
  total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def depthwise_conv(x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[tuple[int, int], tuple[int, int]],
                   method: str = 'slices') -> jax.Array:
  """One filter per channel.

  Args:
    x: [B, H, W, C].
    kernel: [k, k, 1, C] (the HWIO layout of a grouped convolution with C groups).
    stride: the same on both axes.
    padding: ((top, bottom), (left, right)) zeros.
    method: 'slices' (sum over the k*k taps of a strided slice times the tap's weights) or 'grouped'
      (`lax.conv_general_dilated` with `feature_group_count=C`). The two compute the same values.

  Returns:
    [B, H', W', C] with H' = (H + top + bottom - k) // stride + 1 (likewise W').
  """
  kh, kw = kernel.shape[:2]
  if method == 'grouped':
    return jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (stride, stride), padding,
                                        dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
                                        feature_group_count=x.shape[-1])
  if method != 'slices':
    raise ValueError(f"depthwise method must be 'slices' or 'grouped', got {method!r}")
  padded = jnp.pad(x, ((0, 0), padding[0], padding[1], (0, 0)))
  batch, height, width, channels = padded.shape
  out_h = (height - kh) // stride + 1
  out_w = (width - kw) // stride + 1
  weights = kernel.reshape(kh, kw, channels).astype(x.dtype)
  out = None
  for i in range(kh):
    for j in range(kw):
      tap = jax.lax.slice(padded, (0, i, j, 0),
                          (batch, i + (out_h - 1) * stride + 1, j + (out_w - 1) * stride + 1, channels),
                          (1, stride, stride, 1))
      out = tap * weights[i, j] if out is None else out + tap * weights[i, j]
  return out
