"""A video on disk: its frame files and, for the frames that have one, its mask files."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from vosjax.data.image_io import DatasetError, image_size, read_frame, read_mask


@dataclasses.dataclass(frozen=True)
class FileVideo:
  """One video of a dataset, as paths (cheap to pickle into grain workers).

  Attributes:
    name: the sequence name (DAVIS) or video id (YouTube-VOS).
    source: the dataset it comes from ('davis', 'youtube_vos', 'synthetic', ...).
    frame_paths: one path per frame, in time order.
    mask_paths: per frame, its mask path or None where the frame has no annotation.
    binary_masks: masks are 0/255 grayscale (DAVIS 2016 release): non-zero means object 1.
    merge_objects: all object ids become 1 (DAVIS 2016 subsets of a DAVIS 2017 folder); void stays 255.
    frame_step: real video frames between two listed frames (YouTube-VOS: 5), for scaling temporal skips.
    output_frames: names of the frames whose masks a submission must contain (YouTube-VOS valid), or None for all.
    given_frames: names of the frames whose masks an evaluation that adds objects where they first appear may use
      (LVOS: each object's first frame, where the folder holds every frame's ground truth), or None for every mask.
    object_spans: per object (id, first frame index, end index exclusive) where it is scored (LVOS), or None.
  """

  name: str
  source: str
  frame_paths: tuple[str, ...]
  mask_paths: tuple[str | None, ...]
  binary_masks: bool = False
  merge_objects: bool = False
  frame_step: int = 1
  output_frames: tuple[str, ...] | None = None
  given_frames: tuple[str, ...] | None = None
  object_spans: tuple[tuple[int, int, int], ...] | None = None

  def __post_init__(self):
    if len(self.frame_paths) != len(self.mask_paths):
      raise ValueError(f'{self.name}: {len(self.frame_paths)} frames but {len(self.mask_paths)} mask entries')

  @property
  def num_frames(self) -> int:
    return len(self.frame_paths)

  @property
  def frame_names(self) -> tuple[str, ...]:
    return tuple(os.path.splitext(os.path.basename(p))[0] for p in self.frame_paths)

  @property
  def annotated_indices(self) -> tuple[int, ...]:
    return tuple(i for i, path in enumerate(self.mask_paths) if path is not None)

  def frame_size(self, index: int = 0) -> tuple[int, int]:
    """(H, W) of a frame, read from its header."""
    return image_size(self.frame_paths[index])

  def read_frame(self, index: int) -> np.ndarray:
    """[H, W, 3] uint8 RGB."""
    return read_frame(self.frame_paths[index])

  def read_mask(self, index: int, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """[H, W] uint8 object ids (0 background, 255 void) of an annotated frame."""
    path = self.mask_paths[index]
    if path is None:
      raise DatasetError(f'{self.frame_paths[index]}: this frame of {self.name} has no annotation')
    ids = read_mask(path, binary=self.binary_masks, expected_size=expected_size)
    if self.merge_objects:
      ids = np.where((ids > 0) & (ids != 255), 1, ids).astype(np.uint8)
    return ids


def list_files(folder: str, extensions: tuple[str, ...]) -> list[str]:
  """Sorted names of the files in `folder` with one of `extensions` (lower case, with the dot)."""
  try:
    names = os.listdir(folder)
  except FileNotFoundError:
    raise DatasetError(f'{folder}: folder not found') from None
  return sorted(n for n in names if os.path.splitext(n)[1].lower() in extensions and not n.startswith('.'))


def pair_frames_and_masks(name: str, source: str, frame_dir: str, mask_dir: str, *, require_all_masks: bool,
                          **video_fields) -> FileVideo:
  """Builds a FileVideo from a frame folder and a mask folder whose files share stems (00000.jpg / 00000.png).

  Raises DatasetError for an empty frame folder, a mask without a frame, a frame without a mask when
  `require_all_masks`, or a first frame without a mask.
  """
  frames = list_files(frame_dir, ('.jpg', '.jpeg', '.png'))
  if not frames:
    raise DatasetError(f'{frame_dir}: sequence folder {name!r} holds no frames')
  masks = list_files(mask_dir, ('.png',)) if os.path.isdir(mask_dir) else []
  stem = lambda n: os.path.splitext(n)[0]
  frame_stems = {stem(f) for f in frames}
  orphans = [m for m in masks if stem(m) not in frame_stems]
  if orphans:
    raise DatasetError(f'{mask_dir}: annotations without frames in {frame_dir}: {orphans[:5]}')
  mask_by_stem = {stem(m): os.path.join(mask_dir, m) for m in masks}
  if require_all_masks:
    unannotated = [f for f in frames if stem(f) not in mask_by_stem]
    if unannotated:
      raise DatasetError(f'{frame_dir}: frames without annotations in {mask_dir}: {unannotated[:5]}')
  if stem(frames[0]) not in mask_by_stem:
    raise DatasetError(f'{mask_dir}: no annotation for the first frame {frames[0]} of {name!r}')
  return FileVideo(name=name, source=source, frame_paths=tuple(os.path.join(frame_dir, f) for f in frames),
                   mask_paths=tuple(mask_by_stem.get(stem(f)) for f in frames), **video_fields)
