"""What `--checkpoint` means, for every command that loads a trained model (`evaluate.py`, `python -m
vosjax.segment`, `python -m vosjax.export`): the name of a model shipped with vosjax (`vosjax.pretrained.names()`),
a training workdir (its latest readable checkpoint), or one step folder `<workdir>/checkpoints/<step>`.

Each comes with its own internal resolution, used unless the user gives one: a shipped model's manifest says what
it was trained at; a workdir's `config.json` says what its recipe evaluates at (`eval.short_side`), and a workdir
whose config segments at native resolution (or has no config.json) gets `WORKDIR_SHORT_SIDE`, so that a 4K video
does not run at 4K by surprise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vosjax import pretrained
from vosjax.files import workdir as workdir_layout
from vosjax.inference.checkpoint_loading import load_network
from vosjax.models import ModelConfig, VOSNet

WORKDIR_SHORT_SIDE = 480


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  """A network and its variables, and where they came from.

  Attributes:
    model: the network.
    variables: {'params', 'batch_stats'}.
    described: for messages, e.g. 'the shipped model davis2016-lite0' or '/runs/x/checkpoints/6000'.
    source: what identifies the weights in a results folder's run key (name and sha256, or folder and step).
    short_side: the model's own internal resolution (None: native).
    workdir: the training workdir, or None for a shipped model.
  """

  model: VOSNet
  variables: Any
  described: str
  source: dict
  short_side: int | None
  workdir: str | None = None


def is_shipped(checkpoint: str | None) -> bool:
  """Whether `--checkpoint` names a shipped model (None: the default shipped model)."""
  return checkpoint is None or pretrained.is_shipped(checkpoint)


def load_model(checkpoint: str | None, *, step: int | None = None, model_config: ModelConfig | None = None,
               dtype: str | None = None) -> LoadedModel:
  """Loads what `--checkpoint` names (see the module docstring).

  Args:
    checkpoint: a shipped model's name (None: the default one), a workdir, or a step folder.
    step: a workdir's step to load (default: its latest readable checkpoint); not for a shipped model.
    model_config: for a workdir, the network the caller expects (checked against config.json, as
      `load_network` does); default: the workdir's own.
    dtype: the computation dtype, if not the model's own.

  Raises:
    UserError subclasses: an unknown name or path, damaged files, a network that does not fit.
  """
  if is_shipped(checkpoint):
    name = checkpoint or pretrained.DEFAULT
    if step is not None:
      raise pretrained.PretrainedModelError(f'{name} is a shipped model, which has no steps; --step is for a workdir')
    model, variables = pretrained.load(name)
    if dtype:
      model = model.clone(config=dataclasses.replace(model.config, dtype=dtype))
    info = pretrained.manifest(name)
    return LoadedModel(model, variables, f'the shipped model {name}', {'shipped_model': name, 'sha256': info['sha256']},
                       info.get('short_side') or None)
  overrides = {'dtype': dtype} if dtype else {}
  model, variables, location = load_network(checkpoint, step=step, model_config=model_config, **overrides)
  short_side = workdir_layout.eval_short_side(workdir_layout.read_config(location.workdir)) or WORKDIR_SHORT_SIDE
  return LoadedModel(model, variables, f'{location.directory}/{location.step}',
                     {'checkpoint': location.directory, 'step': location.step}, short_side, location.workdir)
