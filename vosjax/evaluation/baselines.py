"""Baselines without a network, with the engine's interface so the same writer and scorer serve them.

* `CopyFirstFrame`: every frame gets the given masks (each object's mask from the frame it was given in).
* `FlowPropagation`: the previous frame's prediction warped into the current frame by dense optical flow from
  OpenCV's DIS (Kroeger et al., ECCV 2016). Flow is computed from the current frame to the previous one, so every
  current pixel looks up where it came from (backward warping, no holes); each object's probability map is warped
  bilinearly and the pixel takes the most probable label (background included), so masks stay sharp and an object
  can shrink to nothing. An object given at a frame (YouTube-VOS joins) overwrites the warped labels there.
* `feature_propagation` (`vosjax.evaluation.feature_propagation`): label propagation over a frozen ImageNet
  EfficientNet-Lite0's features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

import cv2
import numpy as np

if TYPE_CHECKING:  # only a type here: evaluate.py reads BASELINES without importing the data pipeline
  from vosjax.data.eval_stream import EvalFrame

BASELINES = ('copy_first_frame', 'optical_flow', 'feature_propagation')


def _merge_given(labels: np.ndarray | None, frame: EvalFrame) -> np.ndarray:
  """Labels after the frame's given masks (if any) are painted over the carried ones."""
  if labels is None:
    labels = np.zeros(frame.image.shape[:2], np.uint8)
  if frame.given_ids is None:
    return labels
  return np.where(frame.given_ids > 0, frame.given_ids, labels).astype(np.uint8)


class CopyFirstFrame:
  """Repeats the given masks in every later frame."""

  def segment(self, frames: Iterable[EvalFrame], num_objects: int | None = None) -> Iterator[tuple[EvalFrame,
                                                                                                    np.ndarray]]:
    del num_objects
    labels = None
    for frame in frames:
      labels = _merge_given(labels, frame)
      yield frame, labels


class FlowPropagation:
  """Warps the previous labels by DIS optical flow (current -> previous frame).

  Args:
    preset: cv2.DISOPTICAL_FLOW_PRESET_{ULTRAFAST,FAST,MEDIUM}.
  """

  def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
    self.preset = preset

  def segment(self, frames: Iterable[EvalFrame], num_objects: int | None = None) -> Iterator[tuple[EvalFrame,
                                                                                                    np.ndarray]]:
    del num_objects
    flow_estimator = cv2.DISOpticalFlow_create(self.preset)
    labels, previous_gray, grid = None, None, None
    for frame in frames:
      gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
      if labels is not None:
        if gray.shape != previous_gray.shape:
          raise ValueError(f'frame {frame.name}: size {gray.shape} differs from the previous frame\'s '
                           f'{previous_gray.shape}')
        flow = flow_estimator.calc(gray, previous_gray, None)  # [H, W, 2]: where each pixel was in the previous frame
        labels = warp_labels(labels, flow, grid)
      else:
        height, width = gray.shape
        grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
      labels = _merge_given(labels, frame)
      previous_gray = gray
      yield frame, labels


def warp_labels(labels: np.ndarray, flow: np.ndarray, grid: np.ndarray) -> np.ndarray:
  """Backward-warps an [H, W] label map: output[y, x] takes labels at (x, y) + flow[y, x], bilinear per label.

  Args:
    labels: [H, W] uint8 ids (0 = background).
    flow: [H, W, 2] float32 displacement (dx, dy) from each output pixel to its source.
    grid: [H, W, 2] float32 pixel coordinates (x, y).

  Returns:
    [H, W] uint8: per pixel, the id with the largest warped probability (background where none is present).
  """
  source = grid + flow
  ids = [int(i) for i in np.unique(labels) if i != 0]
  if not ids:
    return labels
  best = cv2.remap((labels == 0).astype(np.float32), source[..., 0], source[..., 1], cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REPLICATE)
  out = np.zeros_like(labels)
  for object_id in ids:
    probability = cv2.remap((labels == object_id).astype(np.float32), source[..., 0], source[..., 1],
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    wins = probability > best
    out[wins] = object_id
    best = np.maximum(best, probability)
  return out


def make_baseline(name: str):
  """The baseline called `name` (one of BASELINES)."""
  if name == 'copy_first_frame':
    return CopyFirstFrame()
  if name == 'optical_flow':
    return FlowPropagation()
  if name == 'feature_propagation':  # needs JAX and the installed ImageNet weights: imported only when asked for
    from vosjax.evaluation.feature_propagation import FeaturePropagation
    return FeaturePropagation()
  raise ValueError(f'unknown baseline {name!r}; choose from {", ".join(BASELINES)}')
