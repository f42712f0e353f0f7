"""Held-out videos: taken from the training split, never trained on, and evaluated as the `holdout` split."""

import pytest

from vosjax.configs import davis2016_cpu
from data_layouts import write_davis2017
from vosjax.data.image_io import DatasetError
from vosjax.evaluation.eval_datasets import split_videos
from vosjax.training.datasets import training_sources, validation_videos


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
  sequences = {'one': ('train', 4, 1), 'two': ('train', 4, 1), 'three': ('train', 4, 1), 'four': ('val', 4, 1)}
  return write_davis2017(str(tmp_path_factory.mktemp('davis')), sequences, height=40, width=64)


def test_held_out_videos_are_never_trained_on_and_form_the_holdout_split(davis_root):
  config = davis2016_cpu.get_config()
  config.data.davis_root = davis_root
  config.data.holdout = 'two,three'
  (source,) = training_sources(config.data)
  assert [video.name for video in source.videos] == ['one']
  assert [video.name for video in split_videos(config, 'davis', 'holdout')] == ['two', 'three']
  assert [video.name for video in validation_videos(config.data)] == ['two', 'three']
  config.data.holdout = 'three,nowhere,two'
  with pytest.raises(DatasetError, match='nowhere'):  # evaluating a held-out video the root lacks: an error
    split_videos(config, 'davis', 'holdout')
  # Training's validation on another root validates on the held-out videos it has.
  assert [video.name for video in validation_videos(config.data)] == ['three', 'two']


def test_the_recipe_names_six_held_out_videos_of_davis_2016_train():
  config = davis2016_cpu.get_config()
  names = [name for name in config.data.holdout.split(',') if name]
  assert names == ['bear', 'bmx-bumps', 'car-turn', 'dance-jump', 'hockey', 'mallard-fly']
  assert config.data.val_split == 'holdout'
