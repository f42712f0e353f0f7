"""The built-in synthetic dataset: layout, determinism, and the properties its scenes must have."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vosjax.data import davis_videos
from vosjax.data.synthetic import SyntheticSpec, ensure_dataset, render_video, video_rng, write_dataset

SMALL = SyntheticSpec(height=48, width=80, train_videos=2, val_videos=2, train_frames=(6, 8), val_frames=(6, 8),
                      texture_size=32)


def test_written_in_the_davis_2017_layout_and_read_by_the_davis_reader(tmp_path):
  root = write_dataset(str(tmp_path / 'syn'), seed=0, spec=SMALL, processes=1)
  assert open(os.path.join(root, 'ImageSets', '2017', 'train.txt')).read().split() == ['train000', 'train001']
  videos = davis_videos(root, 'val')
  assert [v.name for v in videos] == ['val000', 'val001']
  mask = Image.open(videos[0].mask_paths[0])
  assert mask.mode == 'P' and mask.size == (80, 48)
  ids = videos[0].read_mask(0)
  assert 1 <= ids.max() <= 4


def test_same_seed_same_data_in_any_number_of_processes(tmp_path):
  one = write_dataset(str(tmp_path / 'a'), seed=5, spec=SMALL, processes=1)
  two = write_dataset(str(tmp_path / 'b'), seed=5, spec=SMALL, processes=2)
  other = write_dataset(str(tmp_path / 'c'), seed=6, spec=SMALL, processes=1)
  read = lambda root: np.asarray(Image.open(os.path.join(root, 'Annotations', '480p', 'train001', '00003.png')))
  np.testing.assert_array_equal(read(one), read(two))
  assert not np.array_equal(read(one), read(other))


def test_scenes_have_occlusion_exits_distractors_and_deformation():
  spec = SyntheticSpec()
  counts, distractors, returns = set(), 0, 0
  for index in range(20):
    rng = video_rng(0, 'val', index)
    _, ids, info = render_video(rng, spec, 50)
    counts.add(info.num_targets)
    distractors += info.num_distractors > 0
    first = set(np.unique(ids[0])) - {0}
    assert first == set(range(1, info.num_targets + 1))  # every target is visible in the first frame
    for k in first:  # an object that leaves the frame (or is hidden) and comes back
      area = (ids == k).sum(axis=(1, 2))
      gone = np.nonzero(area == 0)[0]
      returns += bool(len(gone) and np.any(area[gone[0]:] > 0))
  assert counts == {1, 2, 3, 4}
  assert distractors >= 5 and returns >= 3


def test_objects_occlude_each_other():
  spec = SyntheticSpec()
  occluded = 0
  for index in range(10):
    _, ids, info = render_video(video_rng(0, 'train', index), spec, 40)
    boundaries = (ids[:, 1:] != ids[:, :-1]) & (ids[:, 1:] > 0) & (ids[:, :-1] > 0)  # two objects touching
    occluded += bool(boundaries.any())
  assert occluded >= 3


def test_command_line_and_cache(tmp_path):
  out = tmp_path / 'cli'
  subprocess.run([sys.executable, '-m', 'vosjax.data.synthetic', '--out', str(out), '--seed', '2', '--height', '32',
                  '--width', '48', '--train_videos', '1', '--val_videos', '1'], check=True, capture_output=True)
  assert (out / 'ImageSets' / '2017' / 'val.txt').read_text().strip() == 'val000'
  assert (out / 'JPEGImages' / '480p' / 'train000' / '00000.jpg').is_file()
  cached = ensure_dataset(str(tmp_path / 'cache'), seed=1, spec=SMALL)
  stamp = os.path.getmtime(os.path.join(cached, 'ImageSets', '2017', 'val.txt'))
  assert ensure_dataset(str(tmp_path / 'cache'), seed=1, spec=SMALL) == cached  # not generated twice
  assert os.path.getmtime(os.path.join(cached, 'ImageSets', '2017', 'val.txt')) == stamp
  assert not [p for p in os.listdir(tmp_path) if 'partial' in p]


def test_copying_the_first_mask_scores_0_073_on_the_val_split():
  from vosjax.metrics import score_sequence, summarize
  spec = SyntheticSpec()  # the default dataset, rendered in memory exactly as write_dataset renders it
  scores = []
  for index in range(spec.val_videos):
    rng = video_rng(0, 'val', index)
    _, ids, _ = render_video(rng, spec, int(rng.integers(spec.val_frames[0], spec.val_frames[1] + 1)))
    scores.append(score_sequence(ids, np.broadcast_to(ids[0], ids.shape), sequence=f'val{index:03d}'))
  # The objects move fast: repeating the first mask scores 0.073 J&F (deterministic: the seed fixes every video).
  assert summarize(scores).global_results['J&F-Mean'] == pytest.approx(0.07315275427928604, abs=1e-9)
