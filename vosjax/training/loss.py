"""The training loss (cross-entropy over background and objects, summed over frames 2..T) and IoU."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def segmentation_loss(logits: jax.Array, labels: jax.Array, bootstrap_fraction: float = 1.0,
                      bootstrap_weight: jax.Array | float = 1.0) -> jax.Array:
  """Cross-entropy per frame, summed over the predicted frames and averaged over the batch.

  Args:
    logits: [B, T', K + 1, H, W] (T' = T - 1 predicted frames).
    labels: [B, T', H, W] int, 0 = background, k = object k.
    bootstrap_fraction: 1.0 is the plain per-pixel mean; below 1, each frame's loss is the mean over its hardest
      `bootstrap_fraction` of pixels (bootstrapped cross-entropy, as in STCN).
    bootstrap_weight: [] in [0, 1], with `bootstrap_fraction` < 1: the loss is (1 - w) * the plain mean + w * the
      bootstrapped one, so that a schedule can move from one to the other.

  Returns:
    [] float32.
  """
  classes = logits.shape[2]
  per_pixel = optax.softmax_cross_entropy(jnp.moveaxis(logits, 2, -1), jax.nn.one_hot(labels, classes))
  per_pixel = per_pixel.reshape(per_pixel.shape[0], per_pixel.shape[1], -1)  # [B, T', H * W]
  per_frame = jnp.mean(per_pixel, axis=-1)  # [B, T']
  if bootstrap_fraction < 1.0:
    count = max(1, int(per_pixel.shape[-1] * bootstrap_fraction))
    hardest = jnp.mean(jax.lax.top_k(per_pixel, count)[0], axis=-1)
    per_frame = (1.0 - bootstrap_weight) * per_frame + bootstrap_weight * hardest
  return jnp.mean(jnp.sum(per_frame, axis=1))


def mean_iou(logits: jax.Array, labels: jax.Array, object_valid: jax.Array) -> jax.Array:
  """Mean IoU of the valid objects over the predicted frames (an empty union counts as 1).

  Args:
    logits: [B, T', K + 1, H, W].
    labels: [B, T', H, W].
    object_valid: [B, K] bool.
  """
  objects = logits.shape[2] - 1
  predicted = jnp.argmax(logits, axis=2)
  ids = jnp.arange(1, objects + 1)[None, None, :, None, None]
  pred = predicted[:, :, None] == ids
  true = labels[:, :, None] == ids
  intersection = jnp.sum(pred & true, axis=(-2, -1))
  union = jnp.sum(pred | true, axis=(-2, -1))
  iou = jnp.where(union > 0, intersection / jnp.maximum(union, 1), 1.0)  # [B, T', K]
  weights = jnp.broadcast_to(object_valid[:, None, :], iou.shape)
  return jnp.sum(iou * weights) / jnp.maximum(jnp.sum(weights), 1)
