"""The recipes: every config under configs/ loads and builds its network config; the paper's values; the skip
curriculum of the base config; the refusal to train a paper-size encoder from random weights; a bad override."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from vosjax.errors import ConfigError
from vosjax.models import ModelConfig, paper_config, tiny_config

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / 'configs'


def _load(path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


@pytest.mark.parametrize('path', sorted(p for p in CONFIG_DIR.glob('*.py') if not p.name.startswith('_')),
                         ids=lambda p: p.name)
def test_config_loads_and_builds_the_model_config(path):
  from vosjax.training.datasets import clip_config, parse_sources
  config = _load(path)
  assert isinstance(ModelConfig.from_dict(config.model.to_dict()), ModelConfig)
  assert clip_config(config).num_frames >= 2
  assert parse_sources(config.data.sources)


def test_a_misspelt_override_stops_train_py_naming_the_field():
  result = subprocess.run([sys.executable, str(CONFIG_DIR.parent / 'train.py'), '--config.train.num_stepz=5'],
                          capture_output=True, text=True, env=dict(os.environ, JAX_PLATFORMS='cpu'), timeout=300)
  assert result.returncode == 2  # a user error (vosjax.cli.entry_point)
  assert 'num_stepz' in result.stderr, result.stderr[-2000:]


def test_paper_values_in_the_video_configs():
  for name in ('davis.py', 'youtube_vos.py', 'main.py'):
    config = _load(CONFIG_DIR / name)
    assert config.optim.lr == 1e-5 and config.train.batch_size == 4
    assert config.clip.num_frames == 10 and config.clip.crop_size == 384
    assert (config.clip.max_skip, config.clip.skip_growth, config.clip.skip_growth_epochs) == (10, 5, 20)
    assert ModelConfig.from_dict(config.model.to_dict()) == paper_config()
  assert _load(CONFIG_DIR / 'main.py').data.sources == 'davis:5,youtube_vos:1'
  assert _load(CONFIG_DIR / 'coco_pretrain.py').clip.num_frames == 3


def test_missing_dataset_root_stops_before_compiling(tmp_path):
  from vosjax.data import DatasetError
  from vosjax.training.train_lib import train_and_evaluate
  config = _load(CONFIG_DIR / 'davis.py')
  config.data.davis_root = str(tmp_path / 'no_davis_here')
  with pytest.raises(DatasetError, match=r'no_davis_here.*davischallenge.org'):
    train_and_evaluate(config, str(tmp_path / 'work'))
  config = _load(CONFIG_DIR / 'main.py')
  config.data.davis_root = str(tmp_path)  # exists, but is not a DAVIS folder
  with pytest.raises(DatasetError, match='not a DAVIS folder.*JPEGImages/480p'):
    train_and_evaluate(config, str(tmp_path / 'work'))


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


def test_curriculum_epoch_counts_clips_when_configured():
  from vosjax.data.clip_sampling import ClipConfig, curriculum_epoch, max_skip_at_epoch
  config = ClipConfig(max_skip=10, skip_growth=5, skip_growth_epochs=20, epoch_clips=7500)
  assert curriculum_epoch(config, 7499, list_length=60) == 0
  assert curriculum_epoch(config, 7500, list_length=60) == 1
  assert curriculum_epoch(ClipConfig(), 7500, list_length=60) == 125  # 0: a pass over the list
  # The paper's schedule (150,000 steps of 4 clips) with the base config: the cap arrives three quarters in.
  clips = _load(CONFIG_DIR / 'base.py').clip
  config = ClipConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in clips.to_dict().items()})
  skip_at = lambda step: max_skip_at_epoch(config, curriculum_epoch(config, step * 4, list_length=60))
  assert [skip_at(s) for s in (0, 37_499, 37_500, 75_000, 112_499, 112_500, 149_999)] == [10, 10, 15, 20, 20, 25, 25]


def test_a_paper_size_encoder_from_random_weights_is_refused_unless_allowed():
  from vosjax.training.train_lib import RandomPaperEncoderError, check_encoder_initialisation
  config = _load(CONFIG_DIR / 'base.py')
  with pytest.raises(RandomPaperEncoderError, match='allow_random_init'):
    check_encoder_initialisation(config)
  config.train.allow_random_init = True
  check_encoder_initialisation(config)
  config.train.allow_random_init = False
  config.train.imagenet_frame_encoder = 'resnet50.pth'
  check_encoder_initialisation(config)
  check_encoder_initialisation(_load(CONFIG_DIR / 'synthetic.py'))  # the tiny network has no ImageNet weights


def test_every_ablation_variant_is_a_config_train_py_accepts():
  """benchmarks/ablations.py trains configs/davis2016_cpu.py with each variant's overrides: none may be refused."""
  from vosjax.training.config_checks import check_training_config
  spec = importlib.util.spec_from_file_location('ablations', CONFIG_DIR.parent / 'benchmarks' / 'ablations.py')
  ablations = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(ablations)
  for name, (_, overrides) in ablations.VARIANTS.items():
    config = ablations.variant_config(overrides)
    for override in overrides:  # each override landed
      field, value = override.removeprefix('--config.').split('=', 1)
      node = config
      for part in field.split('.'):
        node = node[part]
      assert str(node) == value, (name, override)
    check_training_config(config)  # raises ConfigError naming the field


def test_packaged_imagenet_weights_of_another_lite_variant_are_refused():
  from vosjax.training.config_checks import check_training_config
  config = _load(CONFIG_DIR / 'davis2016_cpu.py')
  check_training_config(config)  # Lite0 weights into a Lite0 encoder
  config.model.frame_encoder.variant = 'lite2'  # Lite0 weights (installed) into a Lite2 encoder
  with pytest.raises(ConfigError, match='imagenet_frame_encoder=lite2'):
    check_training_config(config)
