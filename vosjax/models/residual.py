"""The pre-activation residual block of STM's decoder and value fusion (no batch norm)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class ResidualBlock(nn.Module):
  """x + conv(relu(conv(relu(x)))); a 3x3 projection of x when the width changes."""

  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H, W, features]."""
    conv = lambda name: nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype, name=name)
    r = conv('conv1')(nn.relu(x))
    r = conv('conv2')(nn.relu(r))
    if x.shape[-1] != self.features:
      x = conv('shortcut')(x)
    return x + r
