"""The DAVIS semi-supervised metric, with the official toolkit's definitions (davis2017-evaluation).

Per object and frame:
* J (region similarity) = |pred & gt| / |pred | gt|, and 1 when the union is empty.
* F (boundary measure): boundary maps by `seg2bmap`; both dilated by a disk of radius
  r = ceil(0.008 * sqrt(H^2 + W^2)); precision = |pred_b & dilate(gt_b)| / |pred_b|, recall = |gt_b & dilate(pred_b)|
  / |gt_b|; no predicted boundary but some gt boundary gives P = 1, R = 0; predicted boundary but none in the gt
  gives P = 0, R = 1; neither gives P = R = 1; F = 2PR / (P + R), 0 when P + R = 0.

Per sequence: the first and last frames are not scored; void (255) ground-truth pixels become background; the
objects are 1..N with N the largest id of the FIRST ground-truth frame; a prediction with an id above N (in any
frame, scored or not) is an error, as in the official tool; an object missing from the prediction is empty.

Per object over its scored frames v: mean = nanmean(v), recall = mean(v > 0.5), decay = nanmean(bin 0) -
nanmean(bin 3) with ids = round(linspace(1, n, 5) + 1e-10) - 1 cast to uint8 (which wraps above 255, as in the
official code) and bins v[ids[i]:ids[i + 1] + 1]. Every global figure is a mean over OBJECTS.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings

import cv2
import numpy as np

from vosjax.files.atomic_write import write_text

GLOBAL_COLUMNS = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay')
SEQUENCE_COLUMNS = ('Sequence', 'J-Mean', 'F-Mean')


def seg2bmap(mask: np.ndarray) -> np.ndarray:
  """Boundary map of a binary mask: [H, W] bool -> [H, W] bool.

  A pixel is boundary if it differs from its east, south or south-east neighbour (beyond the edge counts as 0);
  on the last row only the east comparison counts, on the last column only the south one, and the bottom-right
  pixel is never boundary.
  """
  mask = np.asarray(mask, bool)
  east = np.zeros_like(mask)
  south = np.zeros_like(mask)
  south_east = np.zeros_like(mask)
  east[:, :-1] = mask[:, 1:]
  south[:-1, :] = mask[1:, :]
  south_east[:-1, :-1] = mask[1:, 1:]
  boundary = (mask ^ east) | (mask ^ south) | (mask ^ south_east)
  boundary[-1, :] = mask[-1, :] ^ east[-1, :]
  boundary[:, -1] = mask[:, -1] ^ south[:, -1]
  boundary[-1, -1] = False
  return boundary


def boundary_radius(height: int, width: int) -> int:
  """The tolerance r = ceil(0.008 * sqrt(H^2 + W^2)) in pixels (8 at 854x480)."""
  return int(math.ceil(0.008 * math.sqrt(height**2 + width**2)))


@functools.lru_cache(maxsize=16)
def _disk(radius: int) -> np.ndarray:
  offsets = np.arange(-radius, radius + 1)
  return (offsets[:, None]**2 + offsets[None, :]**2 <= radius**2).astype(np.uint8)


def _dilate(boundary: np.ndarray, radius: int) -> np.ndarray:
  return cv2.dilate(boundary.astype(np.uint8), _disk(radius)) > 0


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
  """J of one object in one frame (bool masks [H, W])."""
  pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
  union = np.count_nonzero(pred | gt)
  if union == 0:
    return 1.0
  return np.count_nonzero(pred & gt) / union


def boundary_measure(pred: np.ndarray, gt: np.ndarray) -> float:
  """F of one object in one frame (bool masks [H, W])."""
  pred_boundary, gt_boundary = seg2bmap(pred), seg2bmap(gt)
  pred_count, gt_count = np.count_nonzero(pred_boundary), np.count_nonzero(gt_boundary)
  if pred_count == 0 and gt_count == 0:
    precision, recall = 1.0, 1.0
  elif pred_count == 0:
    precision, recall = 1.0, 0.0
  elif gt_count == 0:
    precision, recall = 0.0, 1.0
  else:
    radius = boundary_radius(*np.shape(pred))
    precision = np.count_nonzero(pred_boundary & _dilate(gt_boundary, radius)) / pred_count
    recall = np.count_nonzero(gt_boundary & _dilate(pred_boundary, radius)) / gt_count
  if precision + recall == 0:
    return 0.0
  return 2 * precision * recall / (precision + recall)


@dataclasses.dataclass
class SequenceScores:
  """Per-object, per-scored-frame J and F of one sequence.

  Attributes:
    name: the sequence.
    j: [N, T - 2] J of objects 1..N in frames 1..T-2 (or, per object, its own scored frames: a list of N arrays).
    f: [N, T - 2] F likewise.
    object_ids: the ids of the N objects where they are not 1..N (LVOS), for the per-object rows.
  """

  name: str
  j: np.ndarray | list[np.ndarray]
  f: np.ndarray | list[np.ndarray]
  object_ids: tuple[int, ...] | None = None


def score_sequence(gt: np.ndarray, pred: np.ndarray, *, davis2016: bool = False,
                   sequence: str = '') -> SequenceScores:
  """Scores one sequence.

  Args:
    gt: [T, H, W] ground-truth ids (255 = void; with davis2016, 255 is object 1).
    pred: [T, H, W] predicted ids.
    davis2016: DAVIS 2016 masks (0/255 = background/object).
    sequence: the name, for the result and for error messages.

  Returns:
    The per-object J and F of frames 1..T-2.

  Raises:
    ValueError: shapes differ, or the prediction has an id above the first ground-truth frame's largest id.
  """
  gt, pred = np.asarray(gt), np.asarray(pred)
  if gt.shape != pred.shape:
    raise ValueError(f'{sequence}: ground truth {gt.shape} and prediction {pred.shape} differ in shape')
  if davis2016:
    gt = (gt > 0).astype(np.uint8)
    pred = (pred > 0).astype(np.uint8)
  else:
    gt = np.where(gt == 255, 0, gt)
  num_objects = int(gt[0].max())
  pred_max = int(pred.max(initial=0))
  if pred_max > num_objects:
    frame = int(np.argmax(pred.reshape(len(pred), -1).max(axis=1) > num_objects))
    raise ValueError(f'{sequence}: the prediction has object id {pred_max} (first in frame {frame}) but the first '
                     f'ground-truth frame has {num_objects} objects')
  frames = range(1, len(gt) - 1)
  j = np.zeros((num_objects, len(frames)))
  f = np.zeros((num_objects, len(frames)))
  for column, t in enumerate(frames):
    for k in range(num_objects):
      gt_mask, pred_mask = gt[t] == k + 1, pred[t] == k + 1
      j[k, column] = region_similarity(pred_mask, gt_mask)
      f[k, column] = boundary_measure(pred_mask, gt_mask)
  return SequenceScores(name=sequence, j=j, f=f)


def object_statistics(values: np.ndarray) -> tuple[float, float, float]:
  """(mean, recall, decay) of one object's per-frame values, as the official `db_statistics`."""
  values = np.asarray(values, np.float64)
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)  # nanmean of an empty or all-NaN bin is NaN, as officially
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.int64) % 256  # the official uint8 cast
    bins = [values[ids[i]:ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
  return mean, recall, decay


@dataclasses.dataclass
class Summary:
  """Global figures (means over objects) and per-object rows.

  Attributes:
    global_results: {column of GLOBAL_COLUMNS: value}.
    per_object: [(f'{sequence}_{k}', J-Mean, F-Mean)] in sequence order.
  """

  global_results: dict[str, float]
  per_object: list[tuple[str, float, float]]


def summarize(scores: list[SequenceScores]) -> Summary:
  """Aggregates sequences; every global figure is a mean over objects."""
  j_stats, f_stats, rows = [], [], []
  for sequence in scores:
    for k in range(len(sequence.j)):
      j_stats.append(object_statistics(sequence.j[k]))
      f_stats.append(object_statistics(sequence.f[k]))
      object_id = sequence.object_ids[k] if sequence.object_ids else k + 1
      rows.append((f'{sequence.name}_{object_id}', j_stats[-1][0], f_stats[-1][0]))
  if not rows:
    raise ValueError('no object to summarise')
  j_mean, j_recall, j_decay = np.mean(np.asarray(j_stats), axis=0)
  f_mean, f_recall, f_decay = np.mean(np.asarray(f_stats), axis=0)
  values = ((j_mean + f_mean) / 2, j_mean, j_recall, j_decay, f_mean, f_recall, f_decay)
  return Summary(global_results=dict(zip(GLOBAL_COLUMNS, (float(v) for v in values))), per_object=rows)


def _write_atomically(path: str, text: str) -> None:
  write_text(path, text)


def csv_paths(out_dir: str, split: str) -> tuple[str, str]:
  """(`global_results-<split>.csv`, `per-sequence_results-<split>.csv`) in out_dir."""
  return (os.path.join(out_dir, f'global_results-{split}.csv'),
          os.path.join(out_dir, f'per-sequence_results-{split}.csv'))


def remove_csvs(out_dir: str, split: str) -> None:
  """Removes an earlier run's CSVs, so that a scoring that fails leaves none to be mistaken for its own."""
  for path in csv_paths(out_dir, split):
    if os.path.isfile(path):
      os.remove(path)


def write_csvs(summary: Summary, out_dir: str, split: str) -> tuple[str, str]:
  """Writes `global_results-<split>.csv` and `per-sequence_results-<split>.csv` (official columns, 3 decimals)."""
  os.makedirs(out_dir, exist_ok=True)
  global_path, sequence_path = csv_paths(out_dir, split)
  values = ','.join(f'{summary.global_results[c]:.3f}' for c in GLOBAL_COLUMNS)
  _write_atomically(global_path, ','.join(GLOBAL_COLUMNS) + '\n' + values + '\n')
  lines = [','.join(SEQUENCE_COLUMNS)] + [f'{name},{j:.3f},{f:.3f}' for name, j, f in summary.per_object]
  _write_atomically(sequence_path, '\n'.join(lines) + '\n')
  return global_path, sequence_path


def format_table(summary: Summary) -> str:
  """The global figures and the per-object means as printable text."""
  header = ' '.join(f'{c:>9}' for c in GLOBAL_COLUMNS)
  values = ' '.join(f'{summary.global_results[c]:>9.3f}' for c in GLOBAL_COLUMNS)
  width = max([len(name) for name, _, _ in summary.per_object] + [8])
  rows = [f'{"Sequence":<{width}} {"J-Mean":>7} {"F-Mean":>7}']
  rows += [f'{name:<{width}} {j:>7.3f} {f:>7.3f}' for name, j, f in summary.per_object]
  return '\n'.join([header, values, '', *rows])
