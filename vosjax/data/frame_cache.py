"""Training frames decoded once per process, at the training scale, instead of once per clip.

A training clip reads T frames and their masks; over thousands of steps each frame of a small dataset (DAVIS 2016:
1,622 frames) is read hundreds of times. Decoding a 480p JPEG and its PNG every time kept one of a 2-core machine's
cores busy. With `ClipConfig.cache_short_side` S > 0 the clip maker reads through this cache instead: a frame is
decoded the first time a clip needs it, scaled so that its shorter side is S (bilinear with antialiasing; its mask
with nearest neighbours; frames already that small are kept as they are) and kept in the process's memory.

Augmentation is unchanged: the clip's zoom is relative to the frame's shorter side (`augment.clip_transforms`), so a
cached frame gives the same crop content as the full-size one, resampled from the smaller image.

Memory: about S * S * 16/9 * 4 bytes per frame of a 16:9 video (frame and mask), e.g. 0.92 MB at S = 360, so
1.5 GiB for DAVIS 2016's training frames, held by each process that makes clips (each grain worker, or the main
process with `data.num_workers=0`). The cache is per process and never shared or written to disk.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# (frame path, short side) -> ([h, w, 3] uint8 frame, [h, w] uint8 ids). Per process: grain workers each fill
# their own.
_CACHE: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
  """(h, w) with the shorter side at most `short_side`, aspect ratio kept (never enlarged)."""
  scale = short_side / min(height, width)
  if scale >= 1.0:
    return height, width
  return max(1, round(height * scale)), max(1, round(width * scale))


def downscale_pair(frame: np.ndarray, ids: np.ndarray, short_side: int) -> tuple[np.ndarray, np.ndarray]:
  """Scales a frame [H, W, 3] uint8 (bilinear, antialiased) and its ids [H, W] uint8 (nearest) to `short_side`."""
  height, width = scaled_size(*frame.shape[:2], short_side)
  if (height, width) == frame.shape[:2]:
    return frame, ids
  small = Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR)
  small_ids = Image.fromarray(ids).resize((width, height), Image.Resampling.NEAREST)
  return np.asarray(small), np.asarray(small_ids)


def read_pair(video, index: int, short_side: int) -> tuple[np.ndarray, np.ndarray]:
  """A frame of `video` and its mask ([h, w, 3] uint8, [h, w] uint8 ids), through the cache when short_side > 0.

  Args:
    video: anything with read_frame(index) and read_mask(index, expected_size) (`pipeline.Video`).
    index: the frame's index in the video (it must be annotated).
    short_side: 0 reads the files at full size every time; S > 0 decodes once and keeps the frame at S.
  """
  if short_side <= 0:
    frame = video.read_frame(index)
    return frame, video.read_mask(index, expected_size=frame.shape[:2])
  key = _key(video, index, short_side)
  pair = _CACHE.get(key)
  if pair is None:
    frame = video.read_frame(index)
    pair = downscale_pair(frame, video.read_mask(index, expected_size=frame.shape[:2]), short_side)
    if key is not None:
      _CACHE[key] = pair
  return pair


def _key(video, index: int, short_side: int) -> tuple[str, int] | None:
  """The cache key of a frame read from a file; None for sources without stable paths (not cached)."""
  paths = getattr(video, 'frame_paths', None)
  if paths is None:
    return None
  return (f'{paths[index]}|{getattr(video, "merge_objects", False)}|{getattr(video, "binary_masks", False)}',
          short_side)


def cached_frames() -> int:
  """How many frames this process holds."""
  return len(_CACHE)


def clear() -> None:
  """Empties this process's cache (tests)."""
  _CACHE.clear()
