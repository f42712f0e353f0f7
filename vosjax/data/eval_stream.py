"""Evaluation input: a video streamed frame by frame at native resolution, with the masks the task gives.

Semi-supervised DAVIS gives the first frame's mask only (even where the folder holds every frame's ground truth);
YouTube-VOS valid gives each object's mask in the frame where it first appears. Only one frame is decoded at a
time, so a 10,000-frame video costs no more memory than a short one.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo


@dataclasses.dataclass
class EvalFrame:
  """One frame of an evaluation video.

  Attributes:
    index: position in the video.
    name: the frame's name without extension (the name of its output PNG).
    image: [H, W, 3] uint8 RGB.
    given_ids: [H, W] uint8 object ids where this frame brings given masks (void 255 already set to 0), else None.
    new_object_ids: the ids that first appear in `given_ids` (to add to the tracker at this frame).
  """

  index: int
  name: str
  image: np.ndarray
  given_ids: np.ndarray | None
  new_object_ids: tuple[int, ...]


def stream_video(video: FileVideo, *, first_frame_only: bool = True) -> Iterator[EvalFrame]:
  """Yields the frames of `video` in order with the masks an evaluation may use.

  Args:
    video: the video.
    first_frame_only: DAVIS semi-supervised (only frame 0's mask is given); False gives every mask file present
      (YouTube-VOS valid, where a mask exists exactly where objects first appear), or only those of
      `video.given_frames` where it is set (LVOS, whose folder holds every frame's ground truth).

  Raises:
    DatasetError: the first frame has no mask or no object, a mask's size differs from its frame, a frame is corrupt.
  """
  annotated = set(video.annotated_indices)
  if not first_frame_only and video.given_frames is not None:
    given_names = set(video.given_frames)
    annotated = {i for i in annotated if video.frame_names[i] in given_names}
  if 0 not in annotated:
    raise DatasetError(f'{video.frame_paths[0]}: the first frame of {video.name} has no mask')
  known: set[int] = set()
  for index, name in enumerate(video.frame_names):
    image = video.read_frame(index)
    given, new = None, ()
    if index in annotated and (index == 0 or not first_frame_only):
      given = video.read_mask(index, expected_size=image.shape[:2])
      given = np.where(given == 255, 0, given).astype(np.uint8)
      present = {int(i) for i in np.unique(given) if i != 0}
      if index == 0 and not present:
        raise DatasetError(f'{video.mask_paths[0]}: the first frame of {video.name} has no object')
      new = tuple(sorted(present - known))
      known |= present
    yield EvalFrame(index=index, name=name, image=image, given_ids=given, new_object_ids=new)
