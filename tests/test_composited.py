"""The composited multi-object set: two single-object videos make one two-object video in the DAVIS 2017 layout."""

import os

import numpy as np
import pytest

from data_layouts import write_davis2017
from vosjax.data import davis_videos
from vosjax.data.composited import main, write_composited_set
from vosjax.data.image_io import DatasetError


def test_pairs_hold_both_objects_with_their_own_motion(tmp_path):
  root = write_davis2017(str(tmp_path / 'src'), {'a': ('train', 6, 1), 'b': ('train', 4, 1)})
  out = str(tmp_path / 'set')
  assert write_composited_set(root, ['a', 'b'], out, scale=0.5) == ['a+b', 'b+a']
  videos = {v.name: v for v in davis_videos(out, 'val')}
  assert sorted(videos) == ['a+b', 'b+a']
  pair = videos['a+b']
  assert len(pair.frame_paths) == 4  # the shorter video's length
  first, last = pair.read_mask(0), pair.read_mask(3)
  assert set(np.unique(first)) == {0, 1, 2}
  np.testing.assert_array_equal(first == 1, davis_videos(root, 'train')[0].read_mask(0) == 1)  # A's own mask
  # B's box (10x12, moving 2 px a frame) at half size: about 5x6 pixels, moving about 1 px a frame
  assert 15 <= np.sum(first == 2) <= 42
  moved = np.nonzero(last == 2)[1].mean() - np.nonzero(first == 2)[1].mean()
  assert moved == pytest.approx(3.0, abs=1.0)


def test_unknown_videos_are_named_in_one_line(tmp_path, capsys):
  root = write_davis2017(str(tmp_path / 'src'), {'a': ('train', 3, 1), 'b': ('train', 3, 1)})
  with pytest.raises(DatasetError, match='no video zebra'):
    write_composited_set(root, ['a', 'zebra'], str(tmp_path / 'o'))
  with pytest.raises(SystemExit) as exit_info:
    main(['--davis_root', root, '--videos', 'a,zebra', '--out', str(tmp_path / 'o')])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.strip() == f'vosjax.data.composited: {root}: no video zebra in its train split'
  assert not os.path.exists(tmp_path / 'o')
