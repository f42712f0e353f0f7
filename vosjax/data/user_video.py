"""A user's own video to segment: a video file (anything OpenCV reads, e.g. .mp4) or a folder of frame images.

Frames are decoded one at a time as they are consumed, so a long video costs no more memory than a short one. Opening
a video only probes it (its frame count, size and frame rate, from the container or the files' headers) so that bad
input is refused before any network is loaded. The first frame's mask gives the objects to track:

* an indexed ("P") PNG whose values are object ids (0 background, 255 void, treated as background), the DAVIS format;
* a plain grayscale PNG of 0/255 values: one object (255);
* any other mask `vosjax.data.image_io.read_mask` accepts (grayscale ids, RGB in DAVIS palette colours).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator

import cv2
import numpy as np
from PIL import Image

from vosjax.data.eval_stream import EvalFrame
from vosjax.data.image_io import DatasetError, image_size, read_frame, read_mask
from vosjax.data.video import list_files

FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png')
VOID_ID = 255


@dataclasses.dataclass(frozen=True)
class UserVideo:
  """A probed video; `frames()` decodes it.

  Attributes:
    path: the video file or the frame folder.
    frame_paths: a folder's frame files in time order (sorted by name); None for a video file.
    num_frames: the number of frames (a video file's count comes from its container and may be approximate).
    height, width: the frame size.
    fps: the video file's frame rate; None for a frame folder or a container without one.
  """

  path: str
  frame_paths: tuple[str, ...] | None
  num_frames: int
  height: int
  width: int
  fps: float | None

  @property
  def is_folder(self) -> bool:
    return self.frame_paths is not None

  @property
  def size(self) -> tuple[int, int]:
    """(H, W)."""
    return self.height, self.width

  def frames(self) -> Iterator[tuple[str, np.ndarray]]:
    """Yields (frame name, [H, W, 3] uint8 RGB) in time order, decoding one frame at a time.

    Names are the frame files' names without extension, or zero-padded indices (`00000`, ...) for a video file.

    Raises:
      DatasetError: a frame is unreadable or its size differs from the first frame's.
    """
    return self._folder_frames() if self.is_folder else self._file_frames()

  def _folder_frames(self) -> Iterator[tuple[str, np.ndarray]]:
    for path in self.frame_paths:
      image = read_frame(path)
      if image.shape[:2] != self.size:
        raise DatasetError(f'{path}: frame is {image.shape[1]}x{image.shape[0]} (WxH) but the first frame of '
                           f'{self.path} is {self.width}x{self.height}; all frames must have one size')
      yield os.path.splitext(os.path.basename(path))[0], image

  def _file_frames(self) -> Iterator[tuple[str, np.ndarray]]:
    digits = max(5, len(str(max(self.num_frames - 1, 0))))
    capture = cv2.VideoCapture(self.path)
    try:
      if not capture.isOpened():
        raise DatasetError(f'{self.path}: OpenCV cannot open this video file any more')
      index = 0
      while True:
        ok, bgr = capture.read()
        if not ok:
          break
        if bgr.shape[:2] != self.size:
          raise DatasetError(f'{self.path}: frame {index} is {bgr.shape[1]}x{bgr.shape[0]} (WxH) but the first '
                             f'frame is {self.width}x{self.height}; all frames must have one size')
        yield f'{index:0{digits}d}', cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1
    finally:
      capture.release()


def open_user_video(path: str) -> UserVideo:
  """Probes a video file or a folder of .jpg/.jpeg/.png frames without decoding more than its first frame.

  Raises:
    DatasetError: the path does not exist, OpenCV cannot read the file, there is no frame, a folder's frames differ
      in size or two of its frames share a name.
  """
  if os.path.isdir(path):
    return _open_frame_folder(path)
  if not os.path.exists(path):
    raise DatasetError(f'{path}: no such video file or frame folder')
  return _open_video_file(path)


def _open_frame_folder(folder: str) -> UserVideo:
  names = list_files(folder, FRAME_EXTENSIONS)
  if not names:
    raise DatasetError(f'{folder}: no frame files ({", ".join(FRAME_EXTENSIONS)}) in this folder')
  stems = [os.path.splitext(name)[0] for name in names]
  duplicates = sorted({stem for stem in stems if stems.count(stem) > 1})
  if duplicates:
    raise DatasetError(f'{folder}: several frame files share the name {duplicates[0]!r} (one mask per name is '
                       'written); keep one image per frame')
  paths = tuple(os.path.join(folder, name) for name in names)
  height, width = image_size(paths[0])
  for path in paths[1:]:  # headers only: a frame of another size is refused before any network is loaded
    other = image_size(path)
    if other != (height, width):
      raise DatasetError(f'{path}: frame is {other[1]}x{other[0]} (WxH) but {paths[0]} is {width}x{height}; all '
                         'frames must have one size')
  return UserVideo(path=folder, frame_paths=paths, num_frames=len(paths), height=height, width=width, fps=None)


def _open_video_file(path: str) -> UserVideo:
  capture = cv2.VideoCapture(path)
  try:
    if not capture.isOpened():
      raise DatasetError(f'{path}: not a video file OpenCV can read (give a video such as .mp4, or a folder of '
                         f'{"/".join(FRAME_EXTENSIONS)} frames)')
    ok, first = capture.read()
    if not ok:
      raise DatasetError(f'{path}: the video has no frame OpenCV can decode')
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    num_frames = int(count) if np.isfinite(count) else 0
    if num_frames < 1:  # a container without a frame count: count the frames without converting them
      num_frames = 1
      while capture.grab():
        num_frames += 1
  finally:
    capture.release()
  fps = float(fps) if np.isfinite(fps) and fps > 0 else None
  return UserVideo(path=path, frame_paths=None, num_frames=num_frames, height=first.shape[0],
                   width=first.shape[1], fps=fps)


def read_first_mask(mask_path: str, video: UserVideo) -> np.ndarray:
  """The first frame's object ids as [H, W] uint8 (void 255 set to background 0).

  A non-palette mask holding only 0 and 255 is one object (id 1).

  Raises:
    DatasetError: the mask is unreadable, its size differs from the video's frames, or it holds no object.
  """
  ids = read_mask(mask_path)
  if ids.shape != video.size:
    raise DatasetError(f'{mask_path}: the mask is {ids.shape[1]}x{ids.shape[0]} (WxH) but the frames of '
                       f'{video.path} are {video.width}x{video.height}; give a mask of the first frame\'s size')
  with Image.open(mask_path) as image:
    indexed = image.mode == 'P'
  if not indexed and (ids == VOID_ID).any() and set(np.unique(ids).tolist()) <= {0, VOID_ID}:
    return (ids == VOID_ID).astype(np.uint8)
  ids = np.where(ids == VOID_ID, 0, ids).astype(np.uint8)
  if not ids.any():
    raise DatasetError(f'{mask_path}: the mask holds no object (every pixel is background 0 or void 255); mark '
                       'each object with its id (1, 2, ...) or use a 0/255 grayscale mask for one object')
  return ids


def object_ids(ids: np.ndarray) -> tuple[int, ...]:
  """The sorted object ids (non-zero values) of an [H, W] id map."""
  return tuple(int(i) for i in np.unique(ids) if i != 0)


def user_video_stream(video: UserVideo, first_ids: np.ndarray) -> Iterator[EvalFrame]:
  """The video's frames as the segmenter's input: frame 0 brings `first_ids` [H, W] uint8 and all its objects."""
  objects = object_ids(first_ids)
  for index, (name, image) in enumerate(video.frames()):
    given, new = (first_ids, objects) if index == 0 else (None, ())
    yield EvalFrame(index=index, name=name, image=image, given_ids=given, new_object_ids=new)
