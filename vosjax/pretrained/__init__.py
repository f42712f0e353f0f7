"""Trained models that ship inside the package, loaded by name and checked against their sha256.

    import vosjax.pretrained
    vosjax.pretrained.names()                          # the shipped models, the default first
    model, variables = vosjax.pretrained.load()        # the default; or load('davis2016-lite0')
    vosjax.pretrained.manifest(name)                   # what it is: network, training command, data, figures

Each model is two files in `vosjax/pretrained/models/`: `<name>.npz` (its variables, keys 'params/...' and
'batch_stats/...') and `<name>.json`, its manifest: the network config, the internal resolution it segments at, how
it was trained (command, data, steps, seed), the figures measured with that recipe, and the weights' sha256, which
`load` checks before reading a byte of them. `vosjax.pretrained.packaging` writes them from a training workdir.
"""

from __future__ import annotations

import json
import os

import flax
import jax
import numpy as np

from vosjax.files.digest import sha256_of
from vosjax.models import ModelConfig, VOSNet, init_variables
from vosjax.errors import UserError

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models')
DEFAULT = 'davis2016-lite0-v3'


def models_dir() -> str:
  """Where shipped models are looked up: $VOSJAX_MODELS_DIR if set, else the package's own folder."""
  return os.environ.get('VOSJAX_MODELS_DIR') or MODELS_DIR


class PretrainedModelError(UserError, ValueError):
  """An unknown model name, or a shipped model whose files are damaged or modified."""


def names() -> list[str]:
  """The shipped models, the default first."""
  folder = models_dir()
  found = sorted(n[:-len('.json')] for n in os.listdir(folder) if n.endswith('.json')) if os.path.isdir(folder) else []
  return sorted(found, key=lambda name: name != DEFAULT)


def is_shipped(name: str) -> bool:
  """Whether `name` names a shipped model (rather than, say, a workdir path)."""
  return name in names()


def _paths(name: str) -> tuple[str, str]:
  if not is_shipped(name):
    known = ', '.join(names()) or 'none'
    raise PretrainedModelError(f'no shipped model named {name!r}; the shipped models are: {known}')
  return os.path.join(models_dir(), f'{name}.json'), os.path.join(models_dir(), f'{name}.npz')


def manifest(name: str = DEFAULT) -> dict:
  """The manifest of a shipped model (see the module docstring)."""
  manifest_path, _ = _paths(name)
  try:
    with open(manifest_path) as f:
      data = json.load(f)
    ModelConfig.from_dict(data['model'])
    data['sha256'], data['weights_file']  # noqa: B018 (required fields)
  except (OSError, ValueError, KeyError, TypeError) as error:
    raise PretrainedModelError(f'{manifest_path}: the manifest of the shipped model {name!r} is damaged ({error}); '
                               'reinstall vosjax') from None
  return data


def load(name: str = DEFAULT) -> tuple[VOSNet, dict]:
  """(the network, its variables {'params', 'batch_stats'} on the default device) of a shipped model.

  Raises:
    PretrainedModelError: an unknown name (the message lists the shipped ones), or files whose sha256 or shapes do
      not match the manifest (one line naming the file).
  """
  info = manifest(name)
  _, weights_path = _paths(name)
  if not os.path.isfile(weights_path) or sha256_of(weights_path) != info['sha256']:
    raise PretrainedModelError(f'{weights_path}: the weights of the shipped model {name!r} are missing, damaged or '
                               'modified (sha256 differs from its manifest); reinstall vosjax')
  model = VOSNet(ModelConfig.from_dict(info['model']))
  try:
    with np.load(weights_path, allow_pickle=False) as archive:
      flat = {tuple(key.split('/')): archive[key] for key in archive.files}
  except (OSError, ValueError) as error:
    raise PretrainedModelError(f'{weights_path}: cannot be read ({error}); reinstall vosjax') from None
  variables = flax.traverse_util.unflatten_dict(flat)
  expected = jax.eval_shape(lambda: init_variables(model))
  want = {k: v.shape for k, v in flax.traverse_util.flatten_dict(expected).items()}
  got = {k: v.shape for k, v in flat.items()}
  if want != got:
    differ = sorted('/'.join(k) for k in set(want) ^ set(got) | {k for k in want if k in got and want[k] != got[k]})
    raise PretrainedModelError(f'{weights_path}: does not fit the network of its manifest ({", ".join(differ[:3])})')
  return model, jax.device_put(variables)
