"""`python -m vosjax.data.davis2016_folder`: DAVIS 2016's videos from either official release, in the layout the
real-video recipe reads (its ImageSets/2017/train.txt then lists DAVIS 2016's videos only)."""

import os

import numpy as np
import pytest

from data_layouts import square_ids, write_davis2016_release, write_davis2017
from vosjax.data import davis_videos
from vosjax.data.davis2016_folder import main, write_davis2016_folder


def _release_with_a_train_split(root):
  """The DAVIS 2016 release layout (0/255 masks) whose train split is 'bear'."""
  write_davis2016_release(root, name='bear', frames=3)
  os.rename(os.path.join(root, 'ImageSets', '480p', 'val.txt'), os.path.join(root, 'ImageSets', '480p', 'train.txt'))
  return root


def test_the_2016_release_becomes_the_recipes_layout(tmp_path, capsys):
  release = _release_with_a_train_split(str(tmp_path / 'DAVIS2016'))
  main(['--davis', release, '--out', str(tmp_path / 'out')])
  assert 'wrote 1 videos of DAVIS 2016 train' in capsys.readouterr().out
  (video,) = davis_videos(str(tmp_path / 'out'), 'train')  # the recipe's reader (data.sources='davis:1')
  assert video.name == 'bear' and video.num_frames == 3
  for t in range(3):
    np.testing.assert_array_equal(video.read_mask(t), square_ids(40, 64, t, 1))  # 0/255 became 0/1


def test_a_2017_folder_gives_its_2016_subset_with_objects_merged(tmp_path):
  davis = write_davis2017(str(tmp_path / 'DAVIS'), {'pair': ('train', 3, 2), 'other': ('train', 3, 1)})
  os.makedirs(os.path.join(davis, 'ImageSets', '2016'))
  with open(os.path.join(davis, 'ImageSets', '2016', 'train.txt'), 'w') as f:
    f.write('pair\n')  # DAVIS 2017 lists both; DAVIS 2016 only 'pair'
  assert write_davis2016_folder(davis, str(tmp_path / 'out')) == ['pair']
  (video,) = davis_videos(str(tmp_path / 'out'), 'train')
  np.testing.assert_array_equal(video.read_mask(2), np.minimum(square_ids(40, 64, 2, 2), 1))  # one object
  with pytest.raises(SystemExit) as exit_:  # the folder is written once
    main(['--davis', davis, '--out', str(tmp_path / 'out')])
  assert exit_.value.code == 2
