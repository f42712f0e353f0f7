"""Segmenting a split's videos and scoring them with the DAVIS metric in memory (training's validation)."""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from vosjax.data.eval_stream import stream_video
from vosjax.data.image_io import write_indexed_png
from vosjax.data.video import FileVideo
from vosjax.inference.engine import VideoSegmenter
from vosjax.metrics import Summary, score_sequence, summarize


def evaluate_videos(segmenter: VideoSegmenter | Any, videos: Sequence[FileVideo], *, out_dir: str | None = None,
                    davis2016: bool = False) -> tuple[Summary, dict]:
  """Segments each video from its first-frame mask and scores it against its ground truth.

  Args:
    segmenter: the engine, or anything with its `segment(frames)` (a baseline of `vosjax.evaluation.baselines`).
    videos: videos whose every frame has a ground-truth mask.
    out_dir: if given, writes `<out_dir>/<video>/<frame>.png` (DAVIS palette).
    davis2016: score as DAVIS 2016.

  Returns:
    (the summary, {'frames': ..., 'seconds': ..., 'fps': ...} of the segmentation).
  """
  scores, frames, seconds = [], 0, 0.0
  for video in videos:
    predictions, truths = [], []
    began = time.perf_counter()
    for frame, ids in segmenter.segment(stream_video(video)):
      predictions.append(ids)
      truths.append(video.read_mask(frame.index, expected_size=ids.shape))
      if out_dir:
        write_indexed_png(os.path.join(out_dir, video.name, f'{frame.name}.png'), ids)
    seconds += time.perf_counter() - began
    frames += len(predictions)
    scores.append(score_sequence(np.stack(truths), np.stack(predictions), davis2016=davis2016, sequence=video.name))
  return summarize(scores), {'frames': frames, 'seconds': seconds, 'fps': frames / max(seconds, 1e-9)}

