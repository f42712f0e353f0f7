"""Validation during training: the held-out (or val) videos segmented and scored with the training's network.

It sits above both training and evaluation: `train.py` hands `make_validator` to `train_and_evaluate`, so the
training package never imports the evaluation one. The engine is built once, so its start and step compile once per
frame size for the whole run; each validation only gives it the current variables.
"""

from __future__ import annotations

from typing import Any

from vosjax.evaluation.baselines import CopyFirstFrame
from vosjax.evaluation.video_eval import evaluate_videos
from vosjax.inference import VideoSegmenter
from vosjax.models import VOSNet
from vosjax.training.datasets import validation_videos


class Validator:
  """Scores variables on fixed videos.

  Args:
    model: the network.
    videos: videos with every frame annotated.
    num_objects: object slots for every video (one compiled step for all of them).
    short_side: the internal resolution (as evaluate.py's `eval.short_side`; None = native).
    source: the dataset's name, for messages.
  """

  def __init__(self, model: VOSNet, videos, num_objects: int, short_side: int | None, source: str):
    self.model, self.videos, self.num_objects, self.short_side, self.source = (model, videos, num_objects,
                                                                              short_side, source)
    self._segmenter: VideoSegmenter | None = None

  def __len__(self) -> int:
    return len(self.videos)

  def __call__(self, variables: dict[str, Any]) -> dict[str, float]:
    """{'val_JF', 'val_J', 'val_F', 'val_fps'} of `variables` on the videos."""
    if self._segmenter is None:
      self._segmenter = VideoSegmenter(self.model, variables, num_objects=self.num_objects,
                                       short_side=self.short_side)
    else:
      self._segmenter.set_variables(variables)
    summary, stats = evaluate_videos(self._segmenter, self.videos)
    return {'val_JF': summary.global_results['J&F-Mean'], 'val_J': summary.global_results['J-Mean'],
            'val_F': summary.global_results['F-Mean'], 'val_fps': stats['fps']}

  def copy_first_frame_score(self) -> float:
    """The J&F of repeating the first mask, for comparison."""
    summary, _ = evaluate_videos(CopyFirstFrame(), self.videos)
    return summary.global_results['J&F-Mean']


def make_validator(config, model: VOSNet) -> Validator | None:
  """The validator a training config asks for (`data.val_source`), or None; roots are checked here."""
  videos = validation_videos(config.data)
  if not videos:
    return None
  return Validator(model, videos, config.clip.max_objects, config.eval.short_side or None, config.data.val_source)
