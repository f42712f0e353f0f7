"""STM's soft aggregation: per-object logits -> one distribution over background and objects per pixel."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_EPS = 1e-7
_INVALID_LOGIT = -1e4


def soft_aggregate(object_logits: jax.Array, object_valid: jax.Array) -> jax.Array:
  """Merges independent per-object predictions.

  Each object's sigmoid probability p_k is combined with the background probability prod_k (1 - p_k) of the valid
  objects; the merged logits are log(p / (1 - p)) of those clipped probabilities, so that a softmax over them gives
  the per-pixel distribution. Padded (invalid) object slots get a very negative logit.

  Args:
    object_logits: [B, K, H, W] one logit per object and pixel.
    object_valid: [B, K] bool.

  Returns:
    [B, K + 1, H, W] float32 logits, channel 0 the background.
  """
  valid = object_valid[:, :, None, None]
  probs = jax.nn.sigmoid(object_logits.astype(jnp.float32))
  probs = jnp.where(valid, probs, 0.0)
  background = jnp.prod(1.0 - probs, axis=1, keepdims=True)
  merged = jnp.clip(jnp.concatenate([background, probs], axis=1), _EPS, 1.0 - _EPS)
  logits = jnp.log(merged) - jnp.log1p(-merged)
  channel_valid = jnp.concatenate([jnp.ones_like(valid[:, :1]), valid], axis=1)
  return jnp.where(channel_valid, logits, _INVALID_LOGIT)
