"""The network the app segments with: a shipped model by name (the default) or a training checkpoint."""

from __future__ import annotations

import dataclasses

from vosjax.models import VOSNet

WORKDIR_SHORT_SIDE = 480


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  """A network ready for the engine.

  Attributes:
    model: the network.
    variables: {'params', 'batch_stats'}.
    short_side: the internal resolution frames are segmented at (None: native), as `vosjax.segment` does.
    description: where it came from, for the page.
  """

  model: VOSNet
  variables: dict
  short_side: int | None
  description: str


def load_model(checkpoint: str | None = None, short_side: int | None = None) -> LoadedModel:
  """Loads what --checkpoint names: a shipped model's name (None: the default), a training workdir (its latest
  checkpoint) or `<workdir>/checkpoints/<step>`. A shipped model segments at the resolution it was trained for, a
  workdir at WORKDIR_SHORT_SIDE, unless `short_side` says otherwise (0: native)."""
  from vosjax import pretrained
  if checkpoint is None or pretrained.is_shipped(checkpoint):
    name = checkpoint or pretrained.DEFAULT
    model, variables = pretrained.load(name)
    trained = pretrained.manifest(name).get('short_side')
    side = trained if short_side is None else short_side
    return LoadedModel(model, variables, side or None, f'the shipped model {name}')
  from vosjax.inference.checkpoint_loading import load_network
  model, variables, location = load_network(checkpoint)
  side = WORKDIR_SHORT_SIDE if short_side is None else short_side
  return LoadedModel(model, variables, side or None, f'{location.directory}/{location.step}')
