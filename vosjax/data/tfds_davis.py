"""DAVIS 2017 from TensorFlow Datasets (`davis/480p`, `davis/full_resolution`), read with `tfds.data_source`.

Reading a prepared dataset needs no TensorFlow (preparing one does). A record holds a whole video
({'video': {'frames': [T, H, W, 3], 'segmentations': [T, H, W, 1]}, 'metadata': {'video_name', 'num_frames'}}),
so a video is decoded whole, once per process at a time (an LRU of one record); for evaluation of long videos the
DAVIS folder reader streams frame by frame instead.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from vosjax.data.image_io import DatasetError

_SPLITS = {'train': 'train', 'val': 'validation', 'validation': 'validation'}


@functools.lru_cache(maxsize=4)
def _data_source(resolution: str, split: str, data_dir: str | None):
  import tensorflow_datasets as tfds
  import tensorflow_datasets.video.davis  # noqa: F401  (registers the builder)
  try:
    return tfds.data_source(f'davis/{resolution}', split=split, data_dir=data_dir)
  except Exception as error:  # tfds raises several types for a missing or unprepared dataset
    raise DatasetError(f'{data_dir or "the default TFDS data_dir"}: TFDS dataset davis/{resolution} split {split} '
                       f'cannot be read ({error}). Prepare it with `tfds build davis` first.') from None


@functools.lru_cache(maxsize=1)
def _record(resolution: str, split: str, data_dir: str | None, index: int) -> dict:
  return _data_source(resolution, split, data_dir)[index]


@dataclasses.dataclass(frozen=True)
class TfdsVideo:
  """One video of the TFDS davis dataset, fetched on demand."""

  name: str
  index: int
  split: str
  data_dir: str | None
  resolution: str = '480p'
  source: str = 'tfds_davis'
  frame_step: int = 1

  def _video(self) -> dict:
    return _record(self.resolution, self.split, self.data_dir, self.index)['video']

  @property
  def num_frames(self) -> int:
    return len(self._video()['frames'])

  @property
  def annotated_indices(self) -> tuple[int, ...]:
    return tuple(range(self.num_frames))

  def read_frame(self, index: int) -> np.ndarray:
    return np.asarray(self._video()['frames'][index], np.uint8)

  def read_mask(self, index: int, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    ids = np.asarray(self._video()['segmentations'][index], np.uint8)[..., 0]
    if expected_size is not None and ids.shape != tuple(expected_size):
      raise DatasetError(f'TFDS davis/{self.resolution} {self.split}[{self.index}] ({self.name}) frame {index}: '
                         f'mask {ids.shape} and frame {tuple(expected_size)} differ in size')
    return ids


def tfds_davis_videos(split: str = 'train', *, data_dir: str | None = None,
                      resolution: str = '480p') -> list[TfdsVideo]:
  """The videos of a prepared TFDS davis split ('train' or 'val'/'validation')."""
  if split not in _SPLITS:
    raise DatasetError(f'TFDS davis has splits train and validation, not {split!r}')
  tfds_split = _SPLITS[split]
  source = _data_source(resolution, tfds_split, data_dir)
  videos = []
  for index in range(len(source)):
    name = _record(resolution, tfds_split, data_dir, index)['metadata']['video_name']
    name = name.decode() if isinstance(name, bytes) else str(name)
    videos.append(TfdsVideo(name=name, index=index, split=tfds_split, data_dir=data_dir, resolution=resolution))
  return videos
