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


def prediction_path(results_path: str, video: FileVideo, frame_name: str) -> str:
  return os.path.join(results_path, video.name, f'{frame_name}.png')


def score_video(results_path: str, video: FileVideo, davis2016: bool = False) -> SequenceScores:
  """Reads one sequence's predictions and ground truth and scores them.

  Raises:
    DatasetError: a prediction or ground-truth file is missing, unreadable, or of another size than its frame.
  """
  truths, predictions = [], []
  for index, name in enumerate(video.frame_names):
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


def score_results(results_path: str, videos: Sequence[FileVideo], *, davis2016: bool = False, workers: int = 2,
                  on_sequence: Callable[[int], None] | None = None) -> Summary:
  """The DAVIS figures of a results folder over `videos` (a split of a DAVIS-layout dataset).

  Args:
    results_path: the folder of `<sequence>/<frame>.png` predictions.
    videos: the split's videos with their ground truth (e.g. `vosjax.data.davis_videos(root, 'val')`).
    davis2016: score as DAVIS 2016 (one object; 255 is the object).
    workers: processes to score sequences in (1 = in this process).
    on_sequence: called with the number of sequences scored so far (for progress).
  """
  if not os.path.isdir(results_path):
    raise DatasetError(f'{results_path}: no such results folder')
  if not videos:
    raise DatasetError('no sequence to score')
  scores: list[SequenceScores | None] = [None] * len(videos)
  if workers <= 1 or len(videos) == 1:
    for i, video in enumerate(videos):
      scores[i] = score_video(results_path, video, davis2016)
      if on_sequence:
        on_sequence(i + 1)
  else:
    # 'spawn': the caller may hold JAX's threads, which a forked child must not inherit.
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(videos)), mp_context=context) as pool:
      futures = {pool.submit(score_video, results_path, video, davis2016): i for i, video in enumerate(videos)}
      for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
        scores[futures[future]] = future.result()
        if on_sequence:
          on_sequence(done)
  return summarize(scores)
