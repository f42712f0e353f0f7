"""Converts torchvision ResNet state dicts into vosjax's encoders, with a strict key check.

vosjax's ResNet names its parameters after torchvision's keys (`layer2_0/downsample_0/kernel` is
`layer2.0.downsample.0.weight`), so each parameter of the target is looked up by its translated name. Conv kernels go
OIHW -> HWIO; BN weight/bias -> scale/bias, running_mean/var -> batch_stats mean/var. Keys of the stages vosjax does
not use (layer4, fc) and `num_batches_tracked` are skipped; any other key left over, or any key missing, stops the
conversion with an error that names them.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import flax
import jax
import numpy as np

from vosjax.weights.state_dict import load_state_dict

_UNUSED_KEY = re.compile(r'^(fc\.|layer[4-9]\.)|num_batches_tracked$')


class WeightConversionError(ValueError):
  """A checkpoint that does not fit the encoder; the message names the file and the keys."""


def _torch_key(collection: str, path: tuple[str, ...]) -> str:
  parts = []
  for name in path[:-1]:
    match = re.fullmatch(r'(layer\d+|downsample)_(\d+)', name)
    parts.extend(match.groups() if match else (name,))
  leaf = path[-1]
  if collection == 'batch_stats':
    leaf = {'mean': 'running_mean', 'var': 'running_var'}[leaf]
  else:
    leaf = {'kernel': 'weight', 'scale': 'weight', 'bias': 'bias'}[leaf]
  return '.'.join(parts + [leaf])


def _convert_array(key: str, source: np.ndarray, target_shape: tuple[int, ...], where: str) -> np.ndarray:
  if source.ndim == 4:  # conv: OIHW -> HWIO
    source = source.transpose(2, 3, 1, 0)
    if key == 'conv1.weight' and source.shape[2] != target_shape[2]:
      source = _adapt_input_channels(source, target_shape[2])
  if source.shape != tuple(target_shape):
    raise WeightConversionError(f'{where}: {key} has shape {source.shape} after conversion, the encoder needs '
                                f'{tuple(target_shape)}')
  return source.astype(np.float32)


def _adapt_input_channels(kernel: np.ndarray, in_channels: int) -> np.ndarray:
  """The first conv of an encoder with extra input channels (the mask encoder: RGB + masks).

  The checkpoint's RGB kernels stay on the first 3 channels and the extra channels start at zero, so the converted
  encoder initially responds to the RGB input exactly as the ImageNet network does. An encoder with fewer inputs than
  the checkpoint (masks only) gets the mean of the RGB kernels on each of its channels.
  """
  height, width, source_channels, out = kernel.shape
  if in_channels > source_channels:
    extra = np.zeros((height, width, in_channels - source_channels, out), kernel.dtype)
    return np.concatenate([kernel, extra], axis=2)
  return np.repeat(kernel.mean(axis=2, keepdims=True), in_channels, axis=2)


def convert_resnet(state_dict: Mapping[str, np.ndarray], target: Mapping[str, Any],
                   where: str = 'checkpoint') -> tuple[dict[str, Any], list[str]]:
  """Fills a ResNet's variables from a torchvision state dict.

  Args:
    state_dict: torchvision keys -> arrays (e.g. from `load_state_dict`).
    target: the ResNet's variables or their shapes ({'params': ..., 'batch_stats': ...}, as from `jax.eval_shape`).
    where: the file name, for error messages.

  Returns:
    (variables as numpy arrays with the target's structure, the checkpoint keys skipped as unused).

  Raises:
    WeightConversionError: keys missing or unexpected, or shapes that do not fit.
  """
  converted: dict[str, Any] = {}
  used = set()
  missing = []
  for collection in ('params', 'batch_stats'):
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(target.get(collection, {})))
    out = {}
    for path, leaf in flat.items():
      key = _torch_key(collection, path)
      if key not in state_dict:
        missing.append(key)
        continue
      used.add(key)
      out[path] = _convert_array(key, np.asarray(state_dict[key]), tuple(np.shape(leaf)), where)
    converted[collection] = flax.traverse_util.unflatten_dict(out)
  leftover = sorted(k for k in state_dict if k not in used)
  unexpected = [k for k in leftover if not _UNUSED_KEY.search(k)]
  if missing or unexpected:
    raise WeightConversionError(
        f'{where}: does not match the encoder. Missing keys: {missing or "none"}. Unexpected keys: '
        f'{unexpected or "none"}. (Expected a torchvision ResNet state dict of the configured depth.)')
  return converted, leftover


def load_imagenet_encoders(variables: Mapping[str, Any], frame_encoder_path: str | os.PathLike | None = None,
                           mask_encoder_path: str | os.PathLike | None = None) -> dict[str, Any]:
  """Replaces VOSNet's encoders with ImageNet weights from torchvision checkpoints.

  Args:
    variables: VOSNet variables (or shapes) {'params': ..., 'batch_stats': ...}.
    frame_encoder_path: a torchvision ResNet-50 checkpoint (.pth, .npz or .safetensors), or None to keep.
    mask_encoder_path: a torchvision ResNet-18 checkpoint, or None to keep.

  Returns:
    New variables with the converted encoders (everything else unchanged).
  """
  variables = flax.core.unfreeze(jax.tree.map(lambda x: x, dict(variables)))
  locations = {'frame': ('frame_encoder',), 'mask': ('mask_encoder', 'resnet')}
  for name, path in (('frame', frame_encoder_path), ('mask', mask_encoder_path)):
    if path is None:
      continue
    location = locations[name]
    target = {}
    for collection in ('params', 'batch_stats'):
      node = variables[collection]
      for part in location:
        node = node[part]
      target[collection] = node
    converted, _ = convert_resnet(load_state_dict(path), target, where=os.fspath(path))
    for collection in ('params', 'batch_stats'):
      node = variables[collection]
      for part in location[:-1]:
        node = node[part]
      node[location[-1]] = jax.tree.map(np.asarray, converted[collection])
  return variables
