"""The mask embedding module, MEM (paper Eq. 8): past predictions and position channels, four conv+ReLU layers.

For each object the input is E^{i-3} + E^{i-2} + E^{i-1} + P (concatenated on channels). Each E is 2 channels: the
object's probability and the summed probability of the other objects (choice: with one object the paper's
foreground/background pair is p and 1 - p, which carries one channel of information; the other objects' mask tells
MEM where the look-alike distractors are). P is 3 channels: x and y in [-1, 1] and the distance from the centre,
scaled to [0, 1]. The four 3x3 convolutions have stride 2, so MEM's output sits on the stride-16 grid of the
matching features it is concatenated with, and runs at full resolution only in its cheap first layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def position_channels(height: int, width: int) -> jax.Array:
  """P: [H, W, 3] = (x, y in [-1, 1], distance from the centre in [0, 1])."""
  ys = jnp.linspace(-1.0, 1.0, height)
  xs = jnp.linspace(-1.0, 1.0, width)
  y, x = jnp.meshgrid(ys, xs, indexing='ij')
  distance = jnp.sqrt(x**2 + y**2) / jnp.sqrt(2.0)
  return jnp.stack([x, y, distance], axis=-1)


def history_channels(history: jax.Array, object_valid: jax.Array) -> jax.Array:
  """The E terms of Eq. 8 for every object.

  Args:
    history: [B, L, K, H, W] past object probabilities, oldest first.
    object_valid: [B, K] bool.

  Returns:
    [B, K, H, W, 2 * L]: for each past frame, (this object, all other valid objects).
  """
  history = history * object_valid[:, None, :, None, None]
  others = jnp.sum(history, axis=2, keepdims=True) - history
  pairs = jnp.stack([history, others], axis=-1)  # [B, L, K, H, W, 2]
  pairs = jnp.moveaxis(pairs, 1, -2)  # [B, K, H, W, L, 2]
  return pairs.reshape(*pairs.shape[:4], -1)


class MaskEmbedding(nn.Module):
  """MEM: four stride-2 conv+ReLU layers over past masks and positions."""

  widths: tuple[int, int, int, int]
  use_position: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, history: jax.Array) -> jax.Array:
    """[B', H, W, 2 * L] -> [B', ceil(H / 16), ceil(W / 16), widths[-1]] (P appended to the input first)."""
    batch, height, width, _ = history.shape
    x = history
    if self.use_position:  # P of Eq. 8 (off only for the ablation)
      position = jnp.broadcast_to(position_channels(height, width), (batch, height, width, 3))
      x = jnp.concatenate([history, position], axis=-1)
    x = x.astype(self.dtype)
    for index, channels in enumerate(self.widths):
      x = nn.relu(nn.Conv(channels, (3, 3), (2, 2), padding=((1, 1), (1, 1)), dtype=self.dtype,
                          name=f'conv{index}')(x))
    return x
