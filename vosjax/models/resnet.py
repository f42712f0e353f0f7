"""ResNet encoders in the torchvision v1.5 layout, truncated after layer3 (stride 16).

Parameter names mirror torchvision's state-dict keys (`conv1`, `bn1`, `layer1_0/conv1`, `layer2_0/downsample_0`,
...), so converting ImageNet weights is a rename plus a transpose (`vosjax.weights.torchvision`).

Batch normalisation always uses its stored statistics: the paper trains with frozen batch-norm, and inference uses
the same statistics, so there is no train/eval switch and no mutable collection. (Whether the BN scale and bias
are trained is an optimiser choice.) Padding is explicit, because torch's `padding=1` on a stride-2 convolution is
not Flax's 'SAME'.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from vosjax.models.config import ResNetConfig
from vosjax.models.split_conv import SplitInputConv

BN_EPSILON = 1e-5  # torchvision's default


def _batch_norm(name: str, dtype) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, dtype=dtype, name=name)


def _conv(features: int, kernel: int, stride: int, name: str, dtype) -> nn.Conv:
  """A bias-free convolution padded as torch pads it (kernel // 2 on each side)."""
  pad = kernel // 2
  return nn.Conv(features, (kernel, kernel), (stride, stride), padding=((pad, pad), (pad, pad)), use_bias=False,
                 dtype=dtype, name=name)


class BasicBlock(nn.Module):
  """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

  width: int
  stride: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H / stride, W / stride, width]."""
    y = _conv(self.width, 3, self.stride, 'conv1', self.dtype)(x)
    y = nn.relu(_batch_norm('bn1', self.dtype)(y))
    y = _conv(self.width, 3, 1, 'conv2', self.dtype)(y)
    y = _batch_norm('bn2', self.dtype)(y)
    if self.stride != 1 or x.shape[-1] != self.width:
      x = _conv(self.width, 1, self.stride, 'downsample_0', self.dtype)(x)
      x = _batch_norm('downsample_1', self.dtype)(x)
    return nn.relu(x + y)


class Bottleneck(nn.Module):
  """1x1 -> 3x3 (strided, v1.5) -> 1x1 with a residual connection (ResNet-50/101); outputs 4 x width."""

  width: int
  stride: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H / stride, W / stride, 4 * width]."""
    out_channels = 4 * self.width
    y = _conv(self.width, 1, 1, 'conv1', self.dtype)(x)
    y = nn.relu(_batch_norm('bn1', self.dtype)(y))
    y = _conv(self.width, 3, self.stride, 'conv2', self.dtype)(y)
    y = nn.relu(_batch_norm('bn2', self.dtype)(y))
    y = _conv(out_channels, 1, 1, 'conv3', self.dtype)(y)
    y = _batch_norm('bn3', self.dtype)(y)
    if self.stride != 1 or x.shape[-1] != out_channels:
      x = _conv(out_channels, 1, self.stride, 'downsample_0', self.dtype)(x)
      x = _batch_norm('downsample_1', self.dtype)(x)
    return nn.relu(x + y)


class ResNet(nn.Module):
  """The stem and the first three stages of a ResNet.

  Attributes:
    config: depths, widths and block type.
    dtype: computation dtype.
  """

  config: ResNetConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, shared: jax.Array | None = None) -> dict[str, jax.Array]:
    """Encodes images.

    Args:
      x: [B, H, W, C_in] input (normalised RGB, masks, or both); with `shared`, [B, K, H, W, C_own]: K inputs per
        batch element, whose first input channels are `shared` (then B' = B * K below).
      shared: optional [B, H, W, C_shared] channels common to the K inputs of each batch element (the mask
        encoder's RGB frame): the stem convolution's share of them runs once per element (`SplitInputConv`).

    Returns:
      A dict of features: 'stem' [B, H/2, W/2, stem_width] (after ReLU, before max-pool), 'layer1' at stride 4,
      'layer2' at stride 8, 'layer3' at stride 16, with `config.stage_channels()` channels. Spatial sizes round
      up, as in torchvision (241 -> 121 -> 61 -> 31 -> 16).
    """
    cfg = self.config
    block_cls = Bottleneck if cfg.block == 'bottleneck' else BasicBlock
    if shared is None:
      x = _conv(cfg.stem_width, 7, 2, 'conv1', self.dtype)(x.astype(self.dtype))
    else:
      x = SplitInputConv(cfg.stem_width, (7, 7), (2, 2), ((3, 3), (3, 3)), use_bias=False, dtype=self.dtype,
                         name='conv1')(shared, x)
      x = x.reshape((-1,) + x.shape[2:])
    x = nn.relu(_batch_norm('bn1', self.dtype)(x))
    features = {'stem': x}
    x = nn.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, (depth, width) in enumerate(zip(cfg.depths, cfg.widths)):
      for index in range(depth):
        stride = 2 if (stage > 0 and index == 0) else 1
        x = block_cls(width, stride, dtype=self.dtype, name=f'layer{stage + 1}_{index}')(x)
      features[f'layer{stage + 1}'] = x
    return features
