"""The strict conversion shared by every torch-layout encoder: a key map, a transpose, and a full key check.

A converter names, for each parameter path of the target encoder, the torch state-dict key it comes from. Conv
kernels go OIHW -> HWIO; BN weight/bias -> scale/bias, running_mean/var -> batch_stats mean/var. Keys the encoder
does not use (later stages, the classifier, `num_batches_tracked`) match the converter's `unused` pattern and are
skipped; any other key left over, or any key missing, stops the conversion with an error naming them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import flax
import numpy as np

from vosjax.errors import UserError


class WeightConversionError(UserError, ValueError):
  """A checkpoint that does not fit the encoder; the message names the file and the keys."""


def bn_or_conv_leaf(collection: str, leaf: str) -> str:
  """The torch name of a parameter leaf: 'kernel'/'scale' -> 'weight', 'mean' -> 'running_mean', ..."""
  if collection == 'batch_stats':
    return {'mean': 'running_mean', 'var': 'running_var'}[leaf]
  return {'kernel': 'weight', 'scale': 'weight', 'bias': 'bias'}[leaf]


def adapt_input_channels(kernel: np.ndarray, in_channels: int) -> np.ndarray:
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


def _convert_array(key: str, source: np.ndarray, target_shape: tuple[int, ...], first_conv_key: str,
                   where: str) -> np.ndarray:
  if source.ndim == 4:  # conv: OIHW -> HWIO
    source = source.transpose(2, 3, 1, 0)
    if key == first_conv_key and source.shape[2] != target_shape[2]:
      source = adapt_input_channels(source, target_shape[2])
  if source.shape != tuple(target_shape):
    raise WeightConversionError(f'{where}: {key} has shape {source.shape} after conversion, the encoder needs '
                                f'{tuple(target_shape)}')
  return source.astype(np.float32)


def convert_encoder(state_dict: Mapping[str, np.ndarray], target: Mapping[str, Any],
                    torch_key: Callable[[str, tuple[str, ...]], str], unused: re.Pattern, first_conv_key: str,
                    expected: str, where: str = 'checkpoint') -> tuple[dict[str, Any], list[str]]:
  """Fills an encoder's variables from a torch state dict.

  Args:
    state_dict: torch keys -> arrays.
    target: the encoder's variables or their shapes ({'params': ..., 'batch_stats': ...}).
    torch_key: (collection, parameter path) -> the torch key.
    unused: keys the encoder does not use.
    first_conv_key: the key of the input convolution (its input channels may be adapted).
    expected: what the file should be, for the error message.
    where: the file name, for error messages.

  Returns:
    (variables as numpy arrays with the target's structure, the checkpoint keys skipped as unused).

  Raises:
    WeightConversionError: keys missing or unexpected, or shapes that do not fit.
  """
  converted: dict[str, Any] = {}
  used, missing = set(), []
  for collection in ('params', 'batch_stats'):
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(target.get(collection, {})))
    out = {}
    for path, leaf in flat.items():
      key = torch_key(collection, path)
      if key not in state_dict:
        missing.append(key)
        continue
      used.add(key)
      out[path] = _convert_array(key, np.asarray(state_dict[key]), tuple(np.shape(leaf)), first_conv_key, where)
    converted[collection] = flax.traverse_util.unflatten_dict(out)
  leftover = sorted(k for k in state_dict if k not in used)
  unexpected = [k for k in leftover if not unused.search(k)]
  if missing or unexpected:
    raise WeightConversionError(
        f'{where}: does not match the encoder. Missing keys: {missing or "none"}. Unexpected keys: '
        f'{unexpected or "none"}. (Expected {expected}.)')
  return converted, leftover
