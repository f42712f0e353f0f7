"""The choice of encoder (a ResNet or an EfficientNet-Lite) and each encoder's own input normalisation.

The network takes frames normalised with ImageNet's mean and std (`vosjax.data.augment.normalize_frames`); an
encoder whose weights expect another normalisation (EfficientNet-Lite: (x - 127) / 128) gets its frames mapped to it
by a per-channel affine map, which is the identity (and skipped) for the ResNets.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vosjax.models.config import IMAGENET_MEAN, IMAGENET_STD, EfficientNetConfig, EncoderConfig
from vosjax.models.efficientnet import EfficientNetLite
from vosjax.models.resnet import ResNet


def build_encoder(config: EncoderConfig, dtype, name: str | None = None) -> nn.Module:
  """The encoder module of `config`; both kinds return {'stem', 'layer1', 'layer2', 'layer3'} features."""
  if isinstance(config, EfficientNetConfig):
    return EfficientNetLite(config, dtype=dtype, name=name)
  return ResNet(config, dtype=dtype, name=name)


def encoder_input(frame: jax.Array, config: EncoderConfig) -> jax.Array:
  """[..., 3] ImageNet-normalised RGB -> the same frame in the encoder's own normalisation."""
  mean, std = np.asarray(config.input_mean, np.float32), np.asarray(config.input_std, np.float32)
  if np.allclose(mean, IMAGENET_MEAN) and np.allclose(std, IMAGENET_STD):
    return frame
  scale = np.asarray(IMAGENET_STD, np.float32) / std
  shift = (np.asarray(IMAGENET_MEAN, np.float32) - mean) / std
  return frame * jnp.asarray(scale, frame.dtype) + jnp.asarray(shift, frame.dtype)
