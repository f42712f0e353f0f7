"""Shared defaults that every config imports: the paper's network (section 3 of the paper).

Variants override fields, e.g. `config.model.update(vosjax.models.tiny_config().__dict__)`, or from the command line
(`--config.model.use_cam=False`).
"""

import dataclasses

import ml_collections

from vosjax.models import paper_config


def model_block(model_config=None) -> ml_collections.ConfigDict:
  """A ConfigDict mirroring `vosjax.models.ModelConfig` (nested ResNet configs become sub-dicts)."""
  return ml_collections.ConfigDict(dataclasses.asdict(model_config or paper_config()))


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = model_block()
  return config
