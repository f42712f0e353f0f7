"""Scoring a results folder against a dataset's ground truth, as the official DAVIS toolkit does, with no model.

    <results>/<sequence>/<frame>.png   indexed PNGs, one per frame of every sequence of the split (frame names as
                                       in the ground truth; the first and last frames must exist but are not scored)

Sequences are scored in worker processes (each reads its own PNGs); the metric is `vosjax.metrics.davis`.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from typing import Callable, Sequence

import numpy as np

from vosjax.data.image_io import DatasetError, read_mask
from vosjax.data.video import FileVideo
from vosjax.metrics import SequenceScores, Summary, score_sequence, summarize
from vosjax.metrics.davis import boundary_measure, region_similarity


def prediction_path(results_path: str, video: FileVideo, frame_name: str) -> str:
  return os.path.join(results_path, video.name, f'{frame_name}.png')


FRAMES = ('all', 'annotated', 'object_spans')


def score_video(results_path: str, video: FileVideo, davis2016: bool = False, frames: str = 'all') -> SequenceScores:
  """Reads one sequence's predictions and ground truth and scores them.

  Args:
    frames: which frames are scored: 'all' (DAVIS: every frame but the first and last); 'annotated' (sparse ground
      truth, the Long-time Video dataset: the frames with a mask but the first and last of them, the official
      tool's protocol applied to the annotated frames alone); 'object_spans' (LVOS: each object over its own span
      `video.object_spans`, first and last frames excluded).

  Raises:
    DatasetError: a prediction or ground-truth file is missing, unreadable, or of another size than its frame.
  """
  if frames == 'object_spans':
    return _score_object_spans(results_path, video)
  indices = video.annotated_indices if frames == 'annotated' else range(video.num_frames)
  truths, predictions = [], []
  for index in indices:
    name = video.frame_names[index]
    truth = video.read_mask(index)
    path = prediction_path(results_path, video, name)
    if not os.path.isfile(path):
      raise DatasetError(f'{path}: missing prediction for frame {name} of {video.name} (the results folder must hold '
                         f'<sequence>/<frame>.png for every frame of the split)')
    truths.append(truth)
    predictions.append(read_mask(path, expected_size=truth.shape))
  try:
    return score_sequence(np.stack(truths), np.stack(predictions), davis2016=davis2016, sequence=video.name)
  except ValueError as error:
    raise DatasetError(f'{os.path.join(results_path, video.name)}: {error}') from None


def _read_prediction(results_path: str, video: FileVideo, index: int, size: tuple[int, int]) -> np.ndarray:
  name = video.frame_names[index]
  path = prediction_path(results_path, video, name)
  if not os.path.isfile(path):
    raise DatasetError(f'{path}: missing prediction for frame {name} of {video.name}')
  return read_mask(path, expected_size=size)


def _score_object_spans(results_path: str, video: FileVideo) -> SequenceScores:
  """Each object over the inside of its span (LVOS), reading one frame at a time (videos of thousands of frames)."""
  if not video.object_spans:
    raise DatasetError(f'{video.name}: no object spans to score (not an LVOS video)')
  scored = {k: ([], []) for k, _, _ in video.object_spans}
  for index in range(video.num_frames):
    inside = [k for k, first, last in video.object_spans if first < index < last]
    if not inside:
      continue
    truth = video.read_mask(index)
    prediction = _read_prediction(results_path, video, index, truth.shape)
    for object_id in inside:
      gt_mask, pred_mask = truth == object_id, prediction == object_id
      scored[object_id][0].append(region_similarity(pred_mask, gt_mask))
      scored[object_id][1].append(boundary_measure(pred_mask, gt_mask))
  ids = tuple(k for k, _, _ in video.object_spans)
  return SequenceScores(name=video.name, j=[np.asarray(scored[k][0]) for k in ids],
                        f=[np.asarray(scored[k][1]) for k in ids], object_ids=ids)


def score_results(results_path: str, videos: Sequence[FileVideo], *, davis2016: bool = False, workers: int = 2,
                  on_sequence: Callable[[int], None] | None = None, frames: str = 'all') -> Summary:
  """The DAVIS figures of a results folder over `videos` (a split of a DAVIS-layout dataset).

  Args:
    results_path: the folder of `<sequence>/<frame>.png` predictions.
    videos: the split's videos with their ground truth (e.g. `vosjax.data.davis_videos(root, 'val')`).
    davis2016: score as DAVIS 2016 (one object; 255 is the object).
    workers: processes to score sequences in (1 = in this process).
    on_sequence: called with the number of sequences scored so far (for progress).
    frames: which frames are scored ('all', 'annotated', 'object_spans'; see `score_video`).
  """
  if not os.path.isdir(results_path):
    raise DatasetError(f'{results_path}: no such results folder')
  if not videos:
    raise DatasetError('no sequence to score')
  scores: list[SequenceScores | None] = [None] * len(videos)
  if workers <= 1 or len(videos) == 1:
    for i, video in enumerate(videos):
      scores[i] = score_video(results_path, video, davis2016, frames)
      if on_sequence:
        on_sequence(i + 1)
  else:
    # 'spawn': the caller may hold JAX's threads, which a forked child must not inherit.
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(videos)), mp_context=context) as pool:
      futures = {pool.submit(score_video, results_path, video, davis2016, frames): i for i, video in enumerate(videos)}
      for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
        scores[futures[future]] = future.result()
        if on_sequence:
          on_sequence(done)
  return summarize(scores)
