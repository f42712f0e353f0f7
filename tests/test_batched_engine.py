"""Many videos in one batched step (`eval.videos_per_batch`): the same masks as one video at a time, slots refilled
as videos end, objects joining mid-video, videos grouped by frame size, a growing memory bank refused."""

import dataclasses
import os

import numpy as np
import pytest

from data_layouts import frame_for, square_ids, write_davis2017, write_indexed_png, write_jpeg
from test_evaluate import _config, workdir  # noqa: F401 (the module-scoped checkpoint fixture)
from test_inference import MODEL, _variables, _video
from vosjax.data.image_io import read_mask
from vosjax.evaluation.evaluate_lib import evaluate_checkpoint
from vosjax.inference import VideoSegmenter
from vosjax.inference.batched_engine import BatchedVideoSegmenter
from vosjax.models import VOSNet, tiny_config
from vosjax.errors import ConfigError

# Different lengths (so slots free up at different times), one object joining at frame 3, more videos than slots.
VIDEOS = {'a': dict(num_frames=7, ids_at_start=(3, 7)), 'b': dict(num_frames=3, ids_at_start=(2,), seed=1),
          'c': dict(num_frames=9, ids_at_start=(5,), joins={3: (9, (20, 30, 30, 44))}, seed=2),
          'd': dict(num_frames=5, ids_at_start=(1,), seed=3), 'e': dict(num_frames=1, ids_at_start=(4,), seed=4)}
# XLA's CPU matrix kernels block a product differently when the batch (and so the matrix) is larger, so float
# sums can differ in the last bit; a pixel whose two best classes are that close may flip. Nothing else may differ.
MAX_FLIPPED_FRACTION = 5e-4


def _frames(name):
  return _video(height=48, width=64, **VIDEOS[name])


def test_batched_videos_give_the_masks_of_one_video_at_a_time():
  one_at_a_time = VideoSegmenter(MODEL, _variables())
  alone = {name: [(frame.name, ids) for frame, ids in one_at_a_time.segment(_frames(name), num_objects=2)]
           for name in VIDEOS}
  batched = BatchedVideoSegmenter(VideoSegmenter(MODEL, _variables()), videos_per_batch=2)
  got = {name: [] for name in VIDEOS}
  finished = []
  for output in batched.segment(((name, _frames(name)) for name in VIDEOS), num_objects=2, frame_size=(48, 64)):
    assert output.key not in finished  # nothing of a video after its end
    if output.finished:
      finished.append(output.key)
    else:
      got[output.key].append((output.frame.name, output.ids))
  assert sorted(finished) == sorted(VIDEOS)
  assert finished.index('b') < finished.index('a')  # the short video's slot was freed first (and refilled)
  flipped = total = 0
  for name in VIDEOS:
    assert [n for n, _ in got[name]] == [n for n, _ in alone[name]]  # every frame, in order
    for (_, batch_ids), (_, alone_ids) in zip(got[name], alone[name]):
      flipped += int(np.sum(batch_ids != alone_ids))
      total += batch_ids.size
    np.testing.assert_array_equal(got[name][0][1], alone[name][0][1])  # the given first mask
  assert flipped / total <= MAX_FLIPPED_FRACTION, (flipped, total)
  assert 9 in got['c'][3][1] and all(9 not in ids for _, ids in got['c'][:3])  # the join, and nothing before it


def test_a_growing_memory_bank_cannot_batch_videos(workdir, tmp_path):  # noqa: F811
  bank = VOSNet(dataclasses.replace(tiny_config(), matcher='memory_bank'))
  with pytest.raises(ValueError, match='a memory bank that grows with the video'):
    BatchedVideoSegmenter(VideoSegmenter(bank, _variables()), videos_per_batch=2)
  config = _config(eval__videos_per_batch=2)
  config.model.matcher = 'memory_bank'  # an inference-time choice: the workdir's GAM network with a growing bank
  with pytest.raises(ConfigError, match='videos_per_batch=2: batching videos needs a state of fixed size'):
    evaluate_checkpoint(config, workdir, 'val', str(tmp_path / 'out'))
  assert not (tmp_path / 'out').exists()  # refused before anything is written


def _two_size_davis(root):
  """Three 40x64 sequences and one 48x80 one in the val split."""
  write_davis2017(root, {'alpha': ('val', 6, 2), 'beta': ('val', 9, 1), 'delta': ('val', 4, 1)}, height=40, width=64)
  for t in range(5):
    ids = square_ids(48, 80, t, 2)
    write_jpeg(os.path.join(root, 'JPEGImages', '480p', 'gamma', f'{t:05d}.jpg'), frame_for(ids, t))
    write_indexed_png(os.path.join(root, 'Annotations', '480p', 'gamma', f'{t:05d}.png'), ids)
  with open(os.path.join(root, 'ImageSets', '2017', 'val.txt'), 'w') as f:
    f.write('alpha\ngamma\nbeta\ndelta\n')
  return root


def test_evaluate_with_videos_per_batch_writes_the_files_of_one_at_a_time(workdir, tmp_path):  # noqa: F811
  root = _two_size_davis(str(tmp_path / 'davis'))
  results = {}
  for per_batch in (1, 3):
    config = _config(eval__dataset='davis', data__root=root, eval__videos_per_batch=per_batch)
    results[per_batch] = evaluate_checkpoint(config, workdir, 'val', str(tmp_path / f'out{per_batch}'))
  assert results[3]['frames'] == results[1]['frames'] == 6 + 9 + 4 + 5
  assert results[3]['J&F-Mean'] == pytest.approx(results[1]['J&F-Mean'], abs=2e-3)
  flipped = total = 0
  for name in ('alpha', 'beta', 'gamma', 'delta'):
    files = sorted(os.listdir(tmp_path / 'out1' / name))
    assert sorted(os.listdir(tmp_path / 'out3' / name)) == files
    for file in files:
      one, batched = (read_mask(str(tmp_path / f'out{b}' / name / file)) for b in (1, 3))
      assert one.shape == batched.shape  # gamma keeps its own size
      flipped += int(np.sum(one != batched))
      total += one.size
  assert flipped / total <= MAX_FLIPPED_FRACTION
  assert (tmp_path / 'out3' / 'global_results-val.csv').is_file()
