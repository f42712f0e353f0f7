"""The baselines without a network (copy-first-frame, optical flow, feature propagation): what each computes, and
that evaluate.py writes and scores them like a network."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vosjax.configs import davis2016_cpu
from data_layouts import rescored_jf, write_davis2017
from vosjax.data.eval_stream import EvalFrame
from vosjax.evaluation.baselines import CopyFirstFrame, FlowPropagation, warp_labels
from vosjax.evaluation.eval_datasets import split_videos
from vosjax.evaluation.evaluate_lib import evaluate_baseline
from vosjax.metrics import score_sequence
from vosjax.models import VOSNet, tiny_config
from vosjax.validation import Validator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _textured_video(frames=8, height=48, width=80, shift=3):
  """A textured square moving right by `shift` px a frame over a textured, static background."""
  rng = np.random.default_rng(0)
  smooth = lambda h, w: np.kron(rng.integers(0, 255, (h // 4, w // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
  background = smooth(height, width) // 2  # blocky textures (DIS needs structure at its coarse scales)
  texture = 128 + smooth(16, 16) // 2
  for t in range(frames):
    image = background.copy()
    ids = np.zeros((height, width), np.uint8)
    left = 5 + shift * t
    image[16:32, left:left + 16] = texture
    ids[16:32, left:left + 16] = 1
    yield EvalFrame(index=t, name=f'{t:05d}', image=image, given_ids=ids if t == 0 else None,
                    new_object_ids=(1,) if t == 0 else ()), ids


def _joining_video():
  """Three frames: object 1 given at frame 0, object 3 at frame 2."""
  ids0 = np.zeros((40, 40), np.uint8)
  ids0[:10, :10] = 1
  ids2 = np.zeros((40, 40), np.uint8)
  ids2[25:, 25:] = 3
  image = np.kron(np.random.default_rng(0).integers(0, 255, (10, 10, 3)), np.ones((4, 4, 1))).astype(np.uint8)
  return [EvalFrame(0, 'a', image, ids0, (1,)), EvalFrame(1, 'b', image, None, ()),
          EvalFrame(2, 'c', image, ids2, (3,))], ids0, ids2


def test_warp_labels_follows_a_constant_flow():
  labels = np.zeros((20, 30), np.uint8)
  labels[5:10, 5:12] = 2
  grid = np.stack(np.meshgrid(np.arange(30, dtype=np.float32), np.arange(20, dtype=np.float32)), -1)
  flow = np.zeros((20, 30, 2), np.float32)
  flow[..., 0] = -4.0  # every pixel came from 4 px to its left: the object moves right by 4
  warped = warp_labels(labels, flow, grid)
  expected = np.zeros_like(labels)
  expected[5:10, 9:16] = 2
  np.testing.assert_array_equal(warped, expected)


def test_flow_propagation_tracks_a_moving_object_where_copying_fails():
  frames, truths = zip(*_textured_video())
  truth = np.stack(truths)
  flow = np.stack([ids for _, ids in FlowPropagation().segment(iter(frames))])
  copied = np.stack([ids for _, ids in CopyFirstFrame().segment(iter(frames))])
  # DIS drifts slowly on so small a frame (OpenCV's DIS is deterministic; the tolerance allows other builds).
  assert score_sequence(truth, flow).j.mean() == pytest.approx(0.7523298, abs=1e-3)
  assert score_sequence(truth, copied).j.mean() == pytest.approx(0.265645198039086, abs=1e-12)
  np.testing.assert_array_equal(copied, np.broadcast_to(truth[0], truth.shape))


def test_copy_first_frame_repeats_each_mask_from_the_frame_it_is_given_in():
  frames, ids0, ids2 = _joining_video()
  out = [ids for _, ids in CopyFirstFrame().segment(iter(frames))]
  np.testing.assert_array_equal(out[0], ids0)
  np.testing.assert_array_equal(out[1], ids0)
  np.testing.assert_array_equal(out[2], np.maximum(ids0, ids2))  # object 3 joins; object 1 is still copied


def test_flow_propagation_adds_objects_that_join_later():
  frames, _, ids2 = _joining_video()
  out = [ids for _, ids in FlowPropagation().segment(iter(frames))]
  assert set(np.unique(out[1])) == {0, 1} and set(np.unique(out[2])) == {0, 1, 3}
  np.testing.assert_array_equal(out[2][ids2 == 3], 3)  # the given mask is painted over the warped labels


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
  sequences = {'one': ('train', 4, 1), 'two': ('train', 4, 1), 'three': ('train', 4, 1), 'four': ('val', 4, 1)}
  return write_davis2017(str(tmp_path_factory.mktemp('davis')), sequences, height=40, width=64)


def _holdout_config(davis_root, holdout='two,three'):
  config = davis2016_cpu.get_config()
  config.data.davis_root = davis_root
  config.data.holdout = holdout
  return config


def test_baselines_through_evaluate_score_like_a_network(davis_root, tmp_path):
  config = _holdout_config(davis_root)
  copy = evaluate_baseline(config, 'copy_first_frame', 'holdout', str(tmp_path / 'copy'))
  flow = evaluate_baseline(config, 'optical_flow', 'holdout', str(tmp_path / 'flow'))
  assert sorted(os.listdir(tmp_path / 'flow' / 'two')) == [f'{t:05d}.png' for t in range(4)]
  assert os.path.isfile(tmp_path / 'flow' / 'global_results-holdout.csv')
  # A 10x12 box moving 2 px a frame; frames 1 and 2 are scored. Copying keeps an IoU of 10/14 then 8/16, and its
  # boundary F is 6/11; flow follows the box exactly.
  assert copy['J-Mean'] == pytest.approx((10 / 14 + 8 / 16) / 2, abs=1e-12)
  assert copy['F-Mean'] == pytest.approx(6 / 11, abs=1e-12)
  assert (flow['J-Mean'], flow['F-Mean']) == (1.0, 1.0)
  held_out = split_videos(config, 'davis', 'holdout')
  assert copy['J&F-Mean'] == pytest.approx(rescored_jf(str(tmp_path / 'copy'), held_out), abs=1e-6)


def test_validation_compares_with_the_same_copy_first_frame_baseline(davis_root, tmp_path):
  config = _holdout_config(davis_root)
  videos = split_videos(config, 'davis', 'holdout')
  through_evaluate = evaluate_baseline(config, 'copy_first_frame', 'holdout', str(tmp_path / 'copy'))
  validator = Validator(VOSNet(tiny_config()), videos, num_objects=1, short_side=None, source='davis')
  assert validator.copy_first_frame_score() == pytest.approx(through_evaluate['J&F-Mean'], abs=1e-12)


def test_feature_propagation_goes_through_the_same_writer_and_scorer(davis_root, tmp_path):
  config = _holdout_config(davis_root)
  out = tmp_path / 'features'
  results = evaluate_baseline(config, 'feature_propagation', 'holdout', str(out))
  videos = split_videos(config, 'davis', 'holdout')
  assert sorted(os.listdir(out / 'two')) == [f'{t:05d}.png' for t in range(4)]
  assert results['J&F-Mean'] == pytest.approx(rescored_jf(str(out), videos), abs=1e-6)
  first = np.asarray(Image.open(out / 'two' / '00000.png'))
  np.testing.assert_array_equal(first, videos[0].read_mask(0))  # the given frame is written as given


def test_propagation_takes_the_labels_of_the_most_similar_memory_positions():
  from vosjax.evaluation.feature_propagation import propagate
  memory = np.eye(4, dtype=np.float32)[None]  # one frame, four positions with orthogonal unit features
  labels = np.array([[[1, 0], [0, 1], [0, 1], [1, 0]]], np.float32)  # positions 1 and 2 are the object
  query = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], np.float32)
  probs = np.asarray(propagate(memory, labels, np.array([True]), query, top_k=1, temperature=0.05))
  np.testing.assert_allclose(probs, [[0, 1], [1, 0]], atol=1e-6)
  empty = np.asarray(propagate(memory, labels, np.array([False]), query, top_k=4, temperature=0.05))
  np.testing.assert_allclose(empty.sum(-1), 1.0, rtol=1e-5)  # an empty memory still gives distributions


def test_evaluate_py_runs_a_baseline_on_the_holdout_split(davis_root, tmp_path):
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'evaluate.py'), f'--config={ROOT}/configs/davis2016_cpu.py',
       '--split=holdout', '--baseline=optical_flow', f'--out={tmp_path}/flow', f'--config.data.davis_root={davis_root}',
       '--config.data.holdout=one'], capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'J&F-Mean' in result.stdout
  with open(tmp_path / 'flow' / 'eval_stats-holdout.json') as f:
    stats = json.load(f)
  assert stats['baseline'] == 'optical_flow' and stats['J&F-Mean'] == 1.0
