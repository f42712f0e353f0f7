"""Converts EfficientNet-Lite state dicts (the torch layout of lukemelas/EfficientNet-PyTorch) into vosjax's encoder.

vosjax's `EfficientNetLite` names its parameters after that layout: `blocks_3/expand_conv/kernel` is
`_blocks.3._expand_conv.weight`, `bn0/mean` is `_bn0.running_mean`. The blocks after the last stride-16 one, the head
(`_conv_head`, `_bn1`) and the classifier (`_fc`) are not used; every other key must be used and every parameter
found (`vosjax.weights.conversion`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from vosjax.weights.conversion import bn_or_conv_leaf, convert_encoder


def _torch_key(collection: str, path: tuple[str, ...]) -> str:
  parts = []
  for name in path[:-1]:
    match = re.fullmatch(r'blocks_(\d+)', name)
    parts.extend(('_blocks', match.group(1)) if match else ('_' + name,))
  return '.'.join(parts + [bn_or_conv_leaf(collection, path[-1])])


def convert_efficientnet(state_dict: Mapping[str, np.ndarray], target: Mapping[str, Any],
                         where: str = 'checkpoint') -> tuple[dict[str, Any], list[str]]:
  """Fills an `EfficientNetLite`'s variables from a state dict (see `vosjax.weights.conversion.convert_encoder`)."""
  params = target.get('params', {})
  used_blocks = sum(1 for name in params if name.startswith('blocks_'))
  later_block = '|'.join(str(i) for i in range(used_blocks, used_blocks + 64))
  unused = re.compile(rf'^(_conv_head\.|_bn1\.|_fc\.|_blocks\.({later_block})\.)|num_batches_tracked$')
  return convert_encoder(state_dict, target, _torch_key, unused, '_conv_stem.weight',
                         'an EfficientNet-Lite state dict of the configured variant', where)
