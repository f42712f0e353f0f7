"""Several objects per clip from single-object videos: objects pasted from other training videos, with their motion.

DAVIS 2016 annotates one object per video, so its clips teach nothing about telling objects apart. As the paper's
static-image stage builds pseudo-clips, a clip here can receive objects cut out of another video: the donor's own
frames (so the object keeps its own motion and deformation), warped by a clip transform of its own, shrunk by a
random factor and moved to a random place in the crop, then composited over the clip with a soft edge. A pasted
object occludes what is under it. The clip maker then picks the clip's targets among the real and pasted objects;
the others stay unlabelled, as distractors.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from vosjax.data.augment import clip_transforms, warp
from vosjax.data.clip_sampling import ClipConfig, choose_objects, sample_frame_indices

# Ids given to pasted objects in a clip's id maps (DAVIS ids are small; 255 is void).
FIRST_PASTED_ID = 200

ReadPair = Callable[[object, int], tuple[np.ndarray, np.ndarray]]


def _placement(rng: np.random.Generator, config: ClipConfig) -> np.ndarray:
  """A 3x3 map that shrinks the crop about its centre and moves the centre to a random place."""
  crop = config.crop_size
  scale = rng.uniform(*config.paste_scale_range)
  target = rng.uniform(0.15, 0.85, size=2) * crop
  to_origin = np.array([[1, 0, -crop / 2], [0, 1, -crop / 2], [0, 0, 1]], np.float64)
  scaling = np.diag([scale, scale, 1.0])
  to_target = np.array([[1, 0, target[0]], [0, 1, target[1]], [0, 0, 1]], np.float64)
  return to_target @ scaling @ to_origin


def donor_layer(rng: np.random.Generator, donor, read_pair: ReadPair, config: ClipConfig,
                max_skip: int) -> tuple[np.ndarray, np.ndarray] | None:
  """One object of `donor` over T frames, placed in the crop.

  Returns:
    ([T, S, S, 3] uint8 donor pixels, [T, S, S] float32 alpha in 0..1), or None when the donor's sampled frames show
    no object large enough.
  """
  available = donor.annotated_indices
  if not available:
    return None
  indices = [available[i] for i in sample_frame_indices(rng, len(available), config.num_frames, max_skip)]
  pairs = {index: read_pair(donor, index) for index in dict.fromkeys(indices)}
  first_frame, first_ids = pairs[indices[0]]
  objects = choose_objects(rng, first_ids, 1, min_pixels=config.min_object_pixels)
  if not objects:
    return None
  object_id = objects[0]
  ys, xs = np.nonzero(first_ids == object_id)
  pick = int(rng.integers(len(ys)))
  transforms = clip_transforms(rng, config, first_frame.shape[:2], (xs[pick] + 0.5, ys[pick] + 0.5))
  placement = _placement(rng, config)
  size = config.crop_size
  pixels, alpha = [], []
  for index, transform in zip(indices, transforms):
    frame, ids = pairs[index]
    forward = placement @ transform
    pixels.append(warp(frame, forward, size, nearest=False))
    coverage = (ids == object_id).astype(np.uint8) * 255
    alpha.append(warp(coverage, forward, size, nearest=False).astype(np.float32) / 255.0)
  return np.stack(pixels), np.stack(alpha)


def paste_objects(rng: np.random.Generator, frames: np.ndarray, ids: np.ndarray, donors: Sequence,
                  read_pair: ReadPair, config: ClipConfig, max_skip: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
  """Pastes up to `config.paste_max` objects from random donor videos into a clip.

  Each further object is pasted with probability `config.paste_probability` (so none with 1 - p).

  Args:
    rng: the clip's generator.
    frames: [T, S, S, 3] uint8 the clip's crops.
    ids: [T, S, S] uint8 their object ids.
    donors: videos to take objects from.
    read_pair: (video, index) -> (frame, ids), e.g. through the frame cache.
    config: clip sampling (crop size, T, paste settings).
    max_skip: the donor clip's largest skip between frames.

  Returns:
    (frames, ids, the ids of the pasted objects): pasted pixels replace the clip's where the object's soft alpha
    covers them, and its id replaces the clip's ids where the alpha is at least one half.
  """
  pasted: list[int] = []
  if not donors:
    return frames, ids, pasted
  frames = frames.copy()
  ids = ids.copy()
  for slot in range(config.paste_max):
    if rng.random() >= config.paste_probability:
      break
    layer = donor_layer(rng, donors[int(rng.integers(len(donors)))], read_pair, config, max_skip)
    if layer is None:
      continue
    pixels, alpha = layer
    covered = alpha > 0  # blend only where the object is (a pasted object covers a small part of the crop)
    weight = alpha[covered][:, None]
    frames[covered] = np.clip(np.rint(frames[covered] * (1.0 - weight) + pixels[covered] * weight), 0, 255)
    object_id = FIRST_PASTED_ID + slot
    ids[alpha >= 0.5] = object_id
    pasted.append(object_id)
  return frames, ids, pasted
