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
The current frame's own value V_L is the same for every object of a frame, so its block of R is computed once per
frame (the rest of R, and f_R, depend on the object).
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
  def __call__(self, own: jax.Array, shared: jax.Array | None = None) -> jax.Array:
    """CAM over each object's channels [own, shared].

    Args:
      own: [B, K, H, W, C_o] each object's channels (the read-out D_T).
      shared: optional [B, H, W, C_s] channels the K objects of a frame share (V_L), concatenated after `own`.
        Their block of R (C_s x C_s, the largest one) is computed once per frame.

    Returns:
      [B, K, H, W, C_o + C_s] f_out of Eq. 7.
    """
    batch, objects, height, width, own_channels = own.shape
    positions = height * width
    flat_own = own.reshape(batch, objects, positions, own_channels).astype(jnp.float32)  # f2's object part
    flat_shared = None if shared is None else shared.reshape(batch, positions, -1).astype(jnp.float32)
    if self.similarity == 'cosine':
      log_temperature = self.param('log_temperature', nn.initializers.constant(math.log(self.temperature_init)), ())
      # x / max(|x|, 1e-6) written with the square root after the floor: a zero channel gets a finite gradient.
      unit = lambda x: x * jax.lax.rsqrt(jnp.maximum(jnp.sum(x * x, axis=-2, keepdims=True), 1e-12))
      compared_own, scale = unit(flat_own), jnp.exp(log_temperature)
      compared_shared = None if flat_shared is None else unit(flat_shared)
    else:
      compared_own, compared_shared, scale = flat_own, flat_shared, 1.0 / positions
    relation = jnp.einsum('bkni,bknj->bkij', compared_own, compared_own)  # Eq. 4, [B, K, C_o, C_o]
    if flat_shared is not None:
      cross = jnp.einsum('bkni,bnj->bkij', compared_own, compared_shared)  # [B, K, C_o, C_s]
      shared_block = jnp.einsum('bni,bnj->bij', compared_shared, compared_shared)  # once per frame, [B, C_s, C_s]
      shared_rows = jnp.concatenate(
          [jnp.swapaxes(cross, -1, -2), jnp.broadcast_to(shared_block[:, None], (batch, objects) + shared_block.shape[1:])],
          axis=-1)
      relation = jnp.concatenate([jnp.concatenate([relation, cross], axis=-1), shared_rows], axis=-2)
    attention = jax.nn.softmax(relation * scale, axis=-2)  # Eq. 5: normalised over i, [B, K, C, C]
    flat = flat_own if flat_shared is None else jnp.concatenate(
        [flat_own, jnp.broadcast_to(flat_shared[:, None], (batch, objects) + flat_shared.shape[1:])], axis=-1)
    redistributed = jnp.einsum('bkni,bkij->bknj', flat, attention)  # Eq. 6
    rho = self.param('alpha', nn.initializers.constant(self.alpha_init), ())
    alpha = jax.nn.softplus(rho)
    out = alpha * redistributed + flat  # Eq. 7
    # For inspection only (`vosjax.evaluation.module_statistics`): kept when 'intermediates' is mutable.
    channels = flat.shape[-1]
    self.sow('intermediates', 'attention', attention.reshape(batch * objects, channels, channels))
    self.sow('intermediates', 'residual_ratio',
             (jnp.linalg.norm(alpha * redistributed, axis=(2, 3))
              / jnp.maximum(jnp.linalg.norm(flat, axis=(2, 3)), 1e-12)).reshape(batch * objects))
    return out.reshape(batch, objects, height, width, channels).astype(own.dtype)
