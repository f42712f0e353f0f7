"""Which frames and objects make a training clip (the paper's section 4.2 and its peers' conventions).

* T frames in time order; between consecutive sampled frames a random skip of 0..max_skip frames.
* The curriculum: max_skip grows by `skip_growth` every `skip_growth_epochs` epochs (paper: +5 every 20 epochs).
  An epoch is `epoch_clips` clips when that is set, else one pass over the training list: with a small list (DAVIS
  alone: 60 videos, 15 steps of 4 clips) a pass is so short that the curriculum would end within the first 1% of
  training, so the configs fix the epoch in clips instead (see configs/base.py).
* Skips are counted in real video frames: for YouTube-VOS, whose listed frames are every 5th frame, they are divided
  by the video's `frame_step`.
* A video shorter than the clip's span gets smaller skips (down to consecutive frames, then repeated frames).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ClipConfig:
  """How training clips are sampled and augmented.

  Attributes:
    num_frames: T (paper: 10; 3 for image pseudo-videos).
    crop_size: side of the square crop (paper: 384).
    max_objects: K, object slots per clip (padded, with a validity flag).
    max_skip: the initial maximum skip between sampled frames, in real video frames (paper: 10).
    skip_growth: added to max_skip every `skip_growth_epochs` epochs (paper: 5 every 20); 0 disables.
    skip_growth_epochs: see above.
    epoch_clips: clips per curriculum epoch; 0 = one pass over the training list.
    max_skip_limit: the curriculum never exceeds this.
    min_object_pixels: an object counts as visible in the clip's first frame (after augmentation) with this many
      pixels; a clip needs at least one visible object.
    scale_range: clip-level zoom relative to fitting the short side to the crop.
    rotation_degrees, shear_degrees, frame_scale_range: per-frame affine jitter.
    frame_translate: per-frame random shift, as a fraction of the crop (pseudo-videos from still images).
    hflip_probability: clip-level horizontal flip.
    brightness, contrast, saturation, hue: clip-level colour jitter strengths.
    grayscale_probability: the whole clip in grayscale.
    cache_short_side: S > 0 decodes each training frame once per process and keeps it with its shorter side at S
      (`frame_cache`); 0 decodes the files for every clip.
    paste_probability: the chance of pasting an object from another training video into the clip, tried up to
      `paste_max` times (each try only after the previous one pasted; `paste`); 0 disables.
    paste_max: most objects pasted into one clip.
    paste_scale_range: a pasted object's size relative to its own clip's crop.
  """

  num_frames: int = 10
  crop_size: int = 384
  max_objects: int = 3
  max_skip: int = 10
  skip_growth: int = 5
  skip_growth_epochs: int = 20
  epoch_clips: int = 0
  max_skip_limit: int = 25
  min_object_pixels: int = 100
  scale_range: tuple[float, float] = (0.8, 1.25)
  rotation_degrees: float = 15.0
  shear_degrees: float = 10.0
  frame_scale_range: tuple[float, float] = (0.9, 1.1)
  frame_translate: float = 0.0
  hflip_probability: float = 0.5
  brightness: float = 0.1
  contrast: float = 0.05
  saturation: float = 0.05
  hue: float = 0.05
  grayscale_probability: float = 0.05
  cache_short_side: int = 0
  paste_probability: float = 0.0
  paste_max: int = 2
  paste_scale_range: tuple[float, float] = (0.5, 1.0)


def curriculum_epoch(config: ClipConfig, clip_index: int, list_length: int) -> int:
  """The 0-based curriculum epoch of the clip_index-th clip of the stream (list_length: videos per pass)."""
  return clip_index // (config.epoch_clips or max(list_length, 1))


def max_skip_at_epoch(config: ClipConfig, epoch: int) -> int:
  """The curriculum's maximum skip (in real frames) for a 0-based epoch."""
  grown = config.max_skip
  if config.skip_growth and config.skip_growth_epochs:
    grown += config.skip_growth * (epoch // config.skip_growth_epochs)
  return min(grown, config.max_skip_limit)


def sample_frame_indices(rng: np.random.Generator, num_available: int, num_frames: int, max_skip: int) -> np.ndarray:
  """Indices of a clip's frames, increasing (non-decreasing when the video is shorter than the clip).

  Args:
    rng: the per-record generator.
    num_available: frames to choose from.
    num_frames: T.
    max_skip: most frames skipped between two sampled frames.

  Returns:
    [T] int indices into the available frames.
  """
  if num_available < 1:
    raise ValueError('no frames to sample from')
  gaps = 1 + rng.integers(0, max_skip + 1, size=num_frames - 1)
  if num_available < num_frames:  # too short even for consecutive frames: repeat some
    return np.sort(rng.choice(num_available, size=num_frames, replace=True))
  while gaps.sum() > num_available - 1:  # shrink the largest gaps until the span fits
    gaps[np.argmax(gaps)] -= 1
  start = int(rng.integers(0, num_available - gaps.sum()))
  return start + np.concatenate([[0], np.cumsum(gaps)])


def choose_objects(rng: np.random.Generator, first_ids: np.ndarray, max_objects: int,
                   min_pixels: int) -> list[int]:
  """Up to `max_objects` ids visible (>= min_pixels) in the clip's first frame, in random order."""
  if first_ids.dtype == np.uint8:  # a histogram: much faster than np.unique's sort on a full frame
    counts = np.bincount(first_ids.ravel(), minlength=256)
    ids = np.flatnonzero(counts)
    counts = counts[ids]
  else:
    ids, counts = np.unique(first_ids, return_counts=True)
  visible = [int(i) for i, c in zip(ids, counts) if i not in (0, 255) and c >= min_pixels]
  rng.shuffle(visible)
  return visible[:max_objects]
