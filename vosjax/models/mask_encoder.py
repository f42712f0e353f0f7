"""The mask encoder M_E(F_T, M): a ResNet-18 (or an EfficientNet-Lite) over each object's mask, fused with the frame
features F_T.

Input per object: the frame's RGB (optional, `mask_encoder_rgb`), the object's mask and the other objects' mask,
concatenated on channels. The ResNet-18 stride-16 output is concatenated with the frame encoder's stride-16
features F_T of the same frame (computed once for the frame, reused here), fused by a 1x1 conv and a residual block,
and projected to the value M_T with C_M channels.

The parts of that work that are the same for every object of a frame (the RGB share of the first convolution, the
F_T share of the 1x1 fusion) run once per frame (`SplitInputConv`); the result is the per-object concatenation's.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from vosjax.models.config import ModelConfig
from vosjax.models.residual import ResidualBlock
from vosjax.models.encoders import build_encoder, encoder_input
from vosjax.models.split_conv import SplitInputConv


class MaskEncoder(nn.Module):
  """Encodes the masks of all objects of a frame into values."""

  config: ModelConfig

  @nn.compact
  def __call__(self, frame: jax.Array, object_masks: jax.Array, frame_features: jax.Array) -> jax.Array:
    """Computes M_T for every object.

    Args:
      frame: [B, H, W, 3] normalised RGB.
      object_masks: [B, K, H, W] probabilities of each object (given or predicted).
      frame_features: F_T, [B, h, w, C_16] the frame encoder's stride-16 features of this frame.

    Returns:
      [B, K, h, w, C_M] values.
    """
    cfg = self.config
    dtype = jnp.dtype(cfg.dtype)
    batch, objects, height, width = object_masks.shape
    others = jnp.sum(object_masks, axis=1, keepdims=True) - object_masks
    own = jnp.stack([object_masks, others], axis=-1).astype(dtype)  # [B, K, H, W, 2]
    # A ResNet or an EfficientNet-Lite; its parameters keep the scope name 'resnet' (checkpoints stay readable).
    encoder = build_encoder(cfg.mask_encoder, dtype, name='resnet')
    if cfg.mask_encoder_rgb:  # the RGB share of the first convolution runs once per frame
      mask_features = encoder(own, shared=encoder_input(frame, cfg.mask_encoder).astype(dtype))['layer3']
    else:
      mask_features = encoder(own.reshape(batch * objects, height, width, 2))['layer3']
    h, w = mask_features.shape[1:3]
    mask_features = mask_features.reshape(batch, objects, h, w, -1)
    # The 1x1 fusion of [mask features, F_T]: F_T's share runs once per frame.
    fused = SplitInputConv(cfg.fuser_dim, (1, 1), shared_first=False, dtype=dtype, name='fuse')(
        frame_features.astype(dtype), mask_features)
    fused = fused.reshape(batch * objects, h, w, cfg.fuser_dim)
    fused = ResidualBlock(cfg.fuser_dim, dtype=dtype, name='fuse_res')(fused)
    values = nn.Conv(cfg.value_dim, (3, 3), padding=((1, 1), (1, 1)), dtype=dtype, name='value')(fused)
    return values.reshape(batch, objects, h, w, cfg.value_dim)
