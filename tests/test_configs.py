"""Every config under configs/ loads and builds its network config."""

import importlib.util
import pathlib

import pytest

from vosjax.models import ModelConfig, paper_config, tiny_config

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / 'configs'


def _load(path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


@pytest.mark.parametrize('path', sorted(CONFIG_DIR.glob('*.py')), ids=lambda p: p.name)
def test_config_loads_and_builds_the_model_config(path):
  config = _load(path)
  assert isinstance(ModelConfig.from_dict(config.model.to_dict()), ModelConfig)


def test_base_config_is_the_paper_network():
  config = _load(CONFIG_DIR / 'base.py')
  assert ModelConfig.from_dict(config.model.to_dict()) == paper_config()


def test_model_config_round_trips_and_rejects_bad_values():
  import dataclasses
  assert ModelConfig.from_dict(dataclasses.asdict(tiny_config())) == tiny_config()
  with pytest.raises(ValueError, match='matcher'):
    tiny_config(matcher='nearest')
  with pytest.raises(ValueError, match='3 stages'):
    ModelConfig.from_dict({'frame_encoder': {'depths': (3, 4, 6, 3), 'widths': (64, 128, 256, 512)}})
