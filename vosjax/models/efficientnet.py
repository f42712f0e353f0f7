"""EfficientNet-Lite encoders, truncated after the last stride-16 block, with stride-4, 8 and 16 taps.

EfficientNet-Lite is EfficientNet without squeeze-excitation, with ReLU6 and a fixed stem, as TF's
`efficientnet_lite_builder` defines it. Each block is MBConv: a 1x1 expansion (absent when the expand ratio is 1), a
depthwise k x k convolution (strided in a stage's first block), a 1x1 projection, and an identity skip where the
shape allows. Padding is TF's 'SAME' (asymmetric for stride 2), written out explicitly from the input size, and
batch-norm (epsilon 1e-3) always uses its stored statistics, as the ResNets do.

Parameter names follow the torch layout of lukemelas/EfficientNet-PyTorch (`conv_stem`, `bn0`, `blocks_3/
expand_conv`, ...), so `vosjax.weights.efficientnet` converts a state dict by renaming and transposing.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from vosjax.models.config import EfficientNetConfig
from vosjax.models.depthwise import depthwise_conv, same_padding
from vosjax.models.split_conv import SplitInputConv

BN_EPSILON = 1e-3  # TF's EfficientNet


def _batch_norm(name: str, dtype) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, dtype=dtype, name=name)


def _padding(shape: tuple[int, ...], kernel: int, stride: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """TF-SAME padding of a [..., H, W, C] input."""
  return same_padding(shape[-3], kernel, stride), same_padding(shape[-2], kernel, stride)


class DepthwiseConv(nn.Module):
  """A bias-free depthwise convolution with TF-SAME padding; its kernel is [k, k, 1, C] (grouped-conv HWIO)."""

  kernel_size: int
  stride: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C] -> [B, ceil(H / stride), ceil(W / stride), C]."""
    kernel = self.param('kernel', nn.initializers.lecun_normal(in_axis=(0, 1, 2), out_axis=3),
                        (self.kernel_size, self.kernel_size, 1, x.shape[-1]), jnp.float32)
    return depthwise_conv(x, kernel.astype(self.dtype), self.stride,
                          _padding(x.shape, self.kernel_size, self.stride))


class MBConvBlock(nn.Module):
  """Inverted residual block without squeeze-excitation (EfficientNet-Lite)."""

  kernel_size: int
  stride: int
  expand_ratio: int
  out_channels: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, ceil(H / stride), ceil(W / stride), out_channels]."""
    y = x
    if self.expand_ratio != 1:
      y = nn.Conv(x.shape[-1] * self.expand_ratio, (1, 1), use_bias=False, dtype=self.dtype, name='expand_conv')(y)
      y = nn.relu6(_batch_norm('bn0', self.dtype)(y))
    y = DepthwiseConv(self.kernel_size, self.stride, dtype=self.dtype, name='depthwise_conv')(y)
    y = nn.relu6(_batch_norm('bn1', self.dtype)(y))
    y = nn.Conv(self.out_channels, (1, 1), use_bias=False, dtype=self.dtype, name='project_conv')(y)
    y = _batch_norm('bn2', self.dtype)(y)
    if self.stride == 1 and x.shape[-1] == self.out_channels:
      y = y + x
    return y


class EfficientNetLite(nn.Module):
  """The stem and the blocks of an EfficientNet-Lite up to stride 16.

  Attributes:
    config: the variant.
    dtype: computation dtype.
  """

  config: EfficientNetConfig
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, shared: jax.Array | None = None) -> dict[str, jax.Array]:
    """Encodes images.

    Args:
      x: [B, H, W, C_in] input in the encoder's own normalisation; with `shared`, [B, K, H, W, C_own]: K inputs per
        batch element whose first input channels are `shared` (then B' = B * K below).
      shared: optional [B, H, W, C_shared] channels common to the K inputs of each element (the mask encoder's RGB
        frame): the stem convolution's share of them runs once per element (`SplitInputConv`).

    Returns:
      'stem' [B', H/2, W/2, 32] after ReLU6, and 'layer1', 'layer2', 'layer3' after the last block at strides 4, 8
      and 16, with `config.stage_channels()` channels. Sizes round up (TF-SAME): 241 -> 121 -> 61 -> 31 -> 16.
    """
    cfg = self.config
    if shared is None:
      x = nn.Conv(cfg.stem_width, (3, 3), (2, 2), padding=_padding(x.shape, 3, 2), use_bias=False,
                  dtype=self.dtype, name='conv_stem')(x.astype(self.dtype))
    else:
      x = SplitInputConv(cfg.stem_width, (3, 3), (2, 2), _padding(shared.shape, 3, 2), use_bias=False,
                         dtype=self.dtype, name='conv_stem')(shared, x)
      x = x.reshape((-1,) + x.shape[2:])
    x = nn.relu6(_batch_norm('bn0', self.dtype)(x))
    features = {'stem': x}
    taps = dict(zip(cfg.tap_blocks(), ('layer1', 'layer2', 'layer3')))
    for index, (kernel, stride, expand, _, out) in enumerate(cfg.blocks()):
      x = MBConvBlock(kernel, stride, expand, out, dtype=self.dtype, name=f'blocks_{index}')(x)
      if index in taps:
        features[taps[index]] = x
    return features
