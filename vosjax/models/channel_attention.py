"""The channel-wise attention module, CAM (paper Eq. 4-7).

R = f1 f2 relates every pair of channels over all positions (Eq. 4); Eq. 5 normalises it with a softmax over i, the
first index, so that column j of R' is a distribution over input channels; f_R = f_in R' (Eq. 6) then makes every
output channel a convex combination of input channels, and f_out = alpha f_R + f_in (Eq. 7).

Choice (`similarity`): as written, R grows with the resolution, and a softmax that is soft at 384x384 in training
would be nearly one-hot at 2K.
* 'dot_mean': R is divided by the number of positions N. Measured after training on real video: the softmax over
  the ~C channels is then almost exactly uniform (entropy 0.999 of the maximum) and CAM adds 2% to its input.
* 'cosine': R_ij is the cosine similarity of channels i and j over the positions (in [-1, 1] at any resolution),
  times a learned temperature starting at `temperature_init`, so that the softmax can be as peaked as training
  wants it.
alpha = softplus(rho) keeps it >= 0 with a gradient everywhere; rho starts at -2 (alpha ~= 0.13).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


class ChannelAttention(nn.Module):
  """CAM: reweights the channels of each object's matching result."""

  alpha_init: float = -2.0
  similarity: str = 'dot_mean'
  temperature_init: float = 10.0

  @nn.compact
  def __call__(self, features: jax.Array) -> jax.Array:
    """[B, H, W, C] -> [B, H, W, C]."""
    batch, height, width, channels = features.shape
    flat = features.reshape(batch, height * width, channels).astype(jnp.float32)  # f2: [B, N, C]
    if self.similarity == 'cosine':
      unit = flat / jnp.maximum(jnp.linalg.norm(flat, axis=1, keepdims=True), 1e-6)
      log_temperature = self.param('log_temperature', nn.initializers.constant(math.log(self.temperature_init)), ())
      relation = jnp.einsum('bni,bnj->bij', unit, unit) * jnp.exp(log_temperature)  # Eq. 4, [B, C, C]
    else:
      relation = jnp.einsum('bni,bnj->bij', flat, flat) / (height * width)  # Eq. 4 (scaled), [B, C, C]
    attention = jax.nn.softmax(relation, axis=1)  # Eq. 5: normalised over i
    redistributed = jnp.einsum('bni,bij->bnj', flat, attention)  # Eq. 6
    rho = self.param('alpha', nn.initializers.constant(self.alpha_init), ())
    alpha = jax.nn.softplus(rho)
    out = alpha * redistributed + flat  # Eq. 7
    # For inspection only (`vosjax.evaluation.module_statistics`): kept when 'intermediates' is mutable.
    self.sow('intermediates', 'attention', attention)
    self.sow('intermediates', 'residual_ratio',
             jnp.linalg.norm(alpha * redistributed, axis=(1, 2)) / jnp.maximum(jnp.linalg.norm(flat, axis=(1, 2)), 1e-12))
    return out.reshape(features.shape).astype(features.dtype)
