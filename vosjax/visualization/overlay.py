"""Showing a segmentation: masks blended over their frames in DAVIS palette colours, and an .mp4 of them.

Every object's pixels are blended towards its palette colour (object id k gets `davis_palette()[k]`) and its outline,
the pixels of the object with a pixel of something else within `outline_px`, is drawn in that colour, solid. The
outline lies inside the object, so background pixels are never changed.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from vosjax.data.image_io import davis_palette
from vosjax.errors import UserError

_PALETTE = davis_palette()


class OverlayVideoError(UserError, OSError):
  """The overlay video cannot be written; the message names the file."""


def overlay_masks(image: np.ndarray, ids: np.ndarray, alpha: float = 0.5, outline_px: int = 2) -> np.ndarray:
  """Blends object masks over a frame.

  Args:
    image: [H, W, 3] uint8 RGB.
    ids: [H, W] uint8 object ids, 0 = background.
    alpha: the weight of the object's colour inside the object (0 keeps the frame, 1 paints it solid).
    outline_px: the outline's width in pixels (0: none).

  Returns:
    [H, W, 3] uint8 RGB.
  """
  image = np.asarray(image, np.uint8)
  ids = np.asarray(ids, np.uint8)
  if image.ndim != 3 or image.shape[2] != 3 or ids.shape != image.shape[:2]:
    raise ValueError(f'overlay_masks: image {image.shape} and ids {ids.shape} must be [H, W, 3] and [H, W]')
  objects = ids != 0
  colours = _PALETTE[ids].astype(np.float32)
  blended = np.rint((1.0 - alpha) * image.astype(np.float32) + alpha * colours).astype(np.uint8)
  result = np.where(objects[..., None], blended, image)
  if outline_px > 0:
    # A pixel is on its object's outline where its (2 r + 1)^2 neighbourhood holds another id: the neighbourhood's
    # minimum or maximum then differs from it (the image border counts as neither).
    kernel = np.ones((2 * outline_px + 1, 2 * outline_px + 1), np.uint8)
    outline = objects & ((cv2.erode(ids, kernel) != ids) | (cv2.dilate(ids, kernel) != ids))
    result[outline] = _PALETTE[ids[outline]]
  return result


class OverlayVideoWriter:
  """Writes overlay frames to an .mp4 (MPEG-4 'mp4v'), which appears at `path` only when closed without an error.

  Frames go to a temporary file beside `path`, renamed to `path` on a clean exit from the `with` block (or `close()`)
  and deleted on an error. MPEG-4 needs even sizes: an odd height or width is padded by repeating the last row or
  column.

  Args:
    path: the .mp4 to write.
    fps: frames per second.
    size: (H, W) of the frames.
    alpha: as in `overlay_masks`.
  """

  def __init__(self, path: str, fps: float, size: tuple[int, int], alpha: float = 0.5):
    if not fps > 0:
      raise OverlayVideoError(f'{path}: the frame rate must be positive, got {fps}')
    self.path = path
    self.size = tuple(size)
    self.alpha = alpha
    self.frames_written = 0
    root, extension = os.path.splitext(path)
    self._temporary = f'{root}.tmp{os.getpid()}{extension or ".mp4"}'  # the extension picks the container
    height, width = self.size
    self._padding = (height % 2, width % 2)
    self._writer = cv2.VideoWriter(self._temporary, cv2.VideoWriter_fourcc(*'mp4v'), float(fps),
                                   (width + self._padding[1], height + self._padding[0]))
    if not self._writer.isOpened():
      self._writer.release()
      self._writer = None
      raise OverlayVideoError(f'{path}: OpenCV cannot write an mp4v video here (is the folder writable?)')

  def write(self, image: np.ndarray, ids: np.ndarray) -> None:
    """Adds one frame: image [H, W, 3] uint8 RGB with its object ids [H, W] uint8."""
    if self._writer is None:
      raise OverlayVideoError(f'{self.path}: the video is already closed')
    if image.shape[:2] != self.size:
      raise OverlayVideoError(f'{self.path}: frame {self.frames_written} is {image.shape[1]}x{image.shape[0]} '
                              f'(WxH) but the video is {self.size[1]}x{self.size[0]}')
    bgr = cv2.cvtColor(overlay_masks(image, ids, self.alpha), cv2.COLOR_RGB2BGR)
    if any(self._padding):
      bgr = np.pad(bgr, ((0, self._padding[0]), (0, self._padding[1]), (0, 0)), mode='edge')
    self._writer.write(bgr)
    self.frames_written += 1

  def close(self) -> None:
    """Finishes the file and moves it to `path`."""
    if self._writer is None:
      return
    self._writer.release()
    self._writer = None
    os.replace(self._temporary, self.path)

  def discard(self) -> None:
    """Stops writing and deletes the unfinished file (`path` is left as it was)."""
    if self._writer is not None:
      self._writer.release()
      self._writer = None
    if os.path.exists(self._temporary):
      os.remove(self._temporary)

  def __enter__(self) -> 'OverlayVideoWriter':
    return self

  def __exit__(self, error_type, error, traceback) -> None:
    if error_type is None:
      self.close()
    else:
      self.discard()
