"""The DAVIS scorer against hand-computed values for each corner case of the official definitions."""

import numpy as np
import pytest

from vosjax.metrics import (boundary_measure, boundary_radius, object_statistics, region_similarity, score_sequence,
                            seg2bmap, summarize, write_csvs)
from vosjax.metrics.davis import SequenceScores


def test_seg2bmap_edge_rules():
  mask = np.array([[0, 0, 0, 0],
                   [0, 1, 1, 0],
                   [0, 1, 1, 0],
                   [0, 0, 0, 0]], bool)
  expected = np.array([[1, 1, 1, 0],   # (0,0): its south-east neighbour differs
                       [1, 0, 1, 0],   # last column: only the south neighbour counts (0 = 0 here)
                       [1, 1, 1, 0],
                       [0, 0, 0, 0]], bool)  # last row: only the east neighbour counts
  np.testing.assert_array_equal(seg2bmap(mask), expected)
  full = np.ones((3, 3), bool)
  # A full mask has no boundary: the last column compares only with its south neighbour (equal), the last row only
  # with its east neighbour (equal), and the bottom-right pixel (whose neighbours lie beyond the edge) never counts.
  assert not seg2bmap(full).any()
  # A mask touching the bottom edge: the last row compares with the beyond-the-edge value only through "east".
  bottom = np.zeros((3, 4), bool)
  bottom[1:, 1:3] = True
  np.testing.assert_array_equal(seg2bmap(bottom), [[1, 1, 1, 0], [1, 0, 1, 0], [1, 0, 1, 0]])


def test_boundary_radius():
  assert boundary_radius(480, 854) == 8
  assert boundary_radius(1080, 1920) == 18  # ceil(0.008 * 2202.9) = ceil(17.62)


def test_region_similarity():
  assert region_similarity(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0  # empty union
  pred = np.zeros((4, 4), bool)
  gt = np.zeros((4, 4), bool)
  pred[0, :3] = True  # 3 pixels
  gt[0, 1:] = True  # 3 pixels, 2 shared
  assert region_similarity(pred, gt) == pytest.approx(2 / 4)


def test_boundary_corner_cases():
  empty = np.zeros((20, 20), bool)
  square = np.zeros((20, 20), bool)
  square[5:10, 5:10] = True
  assert boundary_measure(empty, square) == 0.0  # P = 1, R = 0
  assert boundary_measure(square, empty) == 0.0  # P = 0, R = 1
  assert boundary_measure(empty, empty) == 1.0  # P = R = 1
  assert boundary_measure(square, square) == 1.0


def test_boundary_tolerance_against_a_direct_definition():
  # 100 x 100 -> r = ceil(0.008 * 141.42) = 2. A square shifted by 2 px is within tolerance everywhere; shifted by
  # 3 px its vertical edges miss. The expected F is computed from the definition, pixel by pixel, with the disk
  # dy^2 + dx^2 <= r^2.
  gt = np.zeros((100, 100), bool)
  gt[20:60, 20:60] = True
  assert boundary_radius(100, 100) == 2
  assert boundary_measure(np.roll(gt, 2, axis=1), gt) == 1.0
  shifted = np.roll(gt, 3, axis=1)
  pred_b, gt_b = seg2bmap(shifted), seg2bmap(gt)
  recall = _brute_force_fraction(gt_b, pred_b, 2)
  precision = _brute_force_fraction(pred_b, gt_b, 2)
  assert 0.3 < precision < 0.9 and 0.3 < recall < 0.9
  assert boundary_measure(shifted, gt) == pytest.approx(2 * precision * recall / (precision + recall))


def _brute_force_fraction(boundary, other, radius):
  """Fraction of `boundary` pixels with an `other` pixel at dy^2 + dx^2 <= r^2 (a direct, slow definition)."""
  ys, xs = np.nonzero(boundary)
  oy, ox = np.nonzero(other)
  hits = [np.any((oy - y)**2 + (ox - x)**2 <= radius**2) for y, x in zip(ys, xs)]
  return float(np.mean(hits))


def _sequence(frames, objects_first=2, height=12, width=12):
  gt = np.zeros((frames, height, width), np.uint8)
  for k in range(objects_first):
    gt[:, 1 + 5 * k:4 + 5 * k, 2:6] = k + 1
  return gt


def test_first_and_last_frames_are_not_scored():
  gt = _sequence(5, objects_first=1)
  pred = gt.copy()
  pred[0] = 0  # wrong first and last frames change nothing
  pred[-1] = 0
  scores = score_sequence(gt, pred, sequence='s')
  assert scores.j.shape == (1, 3)
  np.testing.assert_array_equal(scores.j, 1.0)
  pred[2] = 0  # a wrong middle frame counts, for that frame only
  rescored = score_sequence(gt, pred).j
  np.testing.assert_array_equal(rescored[0, [0, 2]], 1.0)
  assert rescored[0, 1] == 0.0


def test_void_is_background_and_objects_come_from_the_first_frame():
  gt = _sequence(4, objects_first=1)
  gt[:, 8:10, 8:10] = 255  # void becomes background: a prediction there is a false positive
  gt[2, 10:12, 0:3] = 2  # id 2 appears later: not an object (N = max id of frame 0 = 1)
  pred = np.where(gt == 255, 1, gt)
  pred = np.where(pred == 2, 0, pred)
  scores = score_sequence(gt, pred)
  assert scores.j.shape == (1, 2)
  assert scores.j[0, 0] == pytest.approx(12 / 16)  # object of 12 pixels, 4 void pixels predicted as object


def test_missing_object_is_empty_and_ids_above_n_are_errors():
  gt = _sequence(4, objects_first=2)
  pred = np.where(gt == 2, 0, gt)  # object 2 never predicted
  scores = score_sequence(gt, pred)
  np.testing.assert_array_equal(scores.j[1], 0.0)
  np.testing.assert_array_equal(scores.f[1], 0.0)
  bad = gt.copy()
  bad[3, 0, 0] = 3  # even in the (unscored) last frame
  with pytest.raises(ValueError, match=r'bike: the prediction has object id 3 \(first in frame 3\).*2 objects'):
    score_sequence(gt, bad, sequence='bike')


def test_statistics_hand_computed():
  values = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
  mean, recall, decay = object_statistics(values)
  assert mean == pytest.approx(0.55)
  assert recall == pytest.approx(0.5)  # 0.5 itself is not > 0.5
  # ids = round(linspace(1, 10, 5) + 1e-10) - 1 = round([1, 3.25, 5.5, 7.75, 10]) - 1 = [0, 2, 5, 7, 9]
  # (5.5 rounds to 6 because of the 1e-10). bin 0 = v[0:3] = (1, .9, .8); bin 3 = v[7:10] = (.3, .2, .1).
  assert decay == pytest.approx(0.9 - 0.2)
  with_nan = np.array([1.0, np.nan, 0.0, 1.0])
  mean, recall, _ = object_statistics(with_nan)
  assert mean == pytest.approx(2 / 3) and recall == pytest.approx(2 / 4)  # NaN > 0.5 is False


def test_decay_indices_wrap_like_the_official_uint8_cast():
  # n = 300: ids = round(linspace(1, 300, 5) + 1e-10) - 1 = [0, 75, 150, 224, 299] -> uint8 -> [0, 75, 150, 224, 43].
  # bin 3 = v[224:44] is empty, so its nanmean is NaN and the decay is NaN, as the official tool computes it.
  values = np.linspace(1.0, 0.0, 300)
  _, _, decay = object_statistics(values)
  assert np.isnan(decay)
  # n = 260: ids = [0, 65, 130, 194, 259] -> [0, 65, 130, 194, 3]: bin 3 = v[194:4] is empty too.
  assert np.isnan(object_statistics(np.ones(260))[2])
  # n = 256 does not wrap: ids = [0, 64, 128, 191, 255].
  values = np.arange(256, dtype=float)
  assert object_statistics(values)[2] == pytest.approx(np.mean(values[0:65]) - np.mean(values[191:256]))


def test_figures_are_means_over_objects_not_sequences(tmp_path):
  one = SequenceScores('a', j=np.full((1, 3), 1.0), f=np.full((1, 3), 1.0))
  three = SequenceScores('b', j=np.zeros((3, 3)), f=np.zeros((3, 3)))
  summary = summarize([one, three])
  assert summary.global_results['J-Mean'] == pytest.approx(0.25)  # 1 of 4 objects is perfect (not 0.5)
  assert summary.global_results['J&F-Mean'] == pytest.approx(0.25)
  assert [row[0] for row in summary.per_object] == ['a_1', 'b_1', 'b_2', 'b_3']
  global_path, sequence_path = write_csvs(summary, str(tmp_path), 'val')
  assert open(global_path).read() == ('J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n'
                                      '0.250,0.250,0.250,0.000,0.250,0.250,0.000\n')
  assert open(sequence_path).read().splitlines() == ['Sequence,J-Mean,F-Mean', 'a_1,1.000,1.000', 'b_1,0.000,0.000',
                                                     'b_2,0.000,0.000', 'b_3,0.000,0.000']


def test_davis2016_treats_255_as_the_object():
  gt = np.zeros((3, 8, 8), np.uint8)
  gt[:, 2:5, 2:5] = 255
  scores = score_sequence(gt, gt, davis2016=True)
  assert scores.j.shape == (1, 1) and scores.j[0, 0] == 1.0
