"""Converts torchvision ResNet state dicts into vosjax's encoders, with a strict key check.

vosjax's ResNet names its parameters after torchvision's keys (`layer2_0/downsample_0/kernel` is
`layer2.0.downsample.0.weight`), so each parameter of the target is looked up by its translated name. Conv kernels go
OIHW -> HWIO (`vosjax.weights.conversion`). Keys of the stages vosjax does not use (layer4, fc) and
`num_batches_tracked` are skipped; any other key left over, or any key missing, stops the conversion with an error
that names them.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from vosjax.weights.conversion import bn_or_conv_leaf, convert_encoder

_UNUSED_KEY = re.compile(r'^(fc\.|layer[4-9]\.)|num_batches_tracked$')


def _torch_key(collection: str, path: tuple[str, ...]) -> str:
  parts = []
  for name in path[:-1]:
    match = re.fullmatch(r'(layer\d+|downsample)_(\d+)', name)
    parts.extend(match.groups() if match else (name,))
  return '.'.join(parts + [bn_or_conv_leaf(collection, path[-1])])


def convert_resnet(state_dict: Mapping[str, np.ndarray], target: Mapping[str, Any],
                   where: str = 'checkpoint') -> tuple[dict[str, Any], list[str]]:
  """Fills a ResNet's variables from a torchvision state dict (see `vosjax.weights.conversion.convert_encoder`)."""
  return convert_encoder(state_dict, target, _torch_key, _UNUSED_KEY, 'conv1.weight',
                         'a torchvision ResNet state dict of the configured depth', where)
