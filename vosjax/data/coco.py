"""COCO instances as still images for the paper's pre-training stage (3-frame pseudo-videos).

Each image with at least one non-crowd instance is a one-frame "video"; the clip maker samples its single frame
T times and the per-frame affine jitter (`ClipConfig.rotation_degrees`, `frame_translate`, ...) turns the copies
into a pseudo-video. Instances are decoded with pycocotools (polygons and RLE) and painted largest first, so that
small objects stay visible; crowd regions are ignored (left as whatever lies under them, never an object).

The annotation file is loaded lazily, once per process (the grain workers each load it), not pickled into them.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from vosjax.data.image_io import DatasetError, read_frame

COCO_URL = 'https://cocodataset.org/#download'


@functools.lru_cache(maxsize=2)
def _coco_index(annotation_file: str):
  from pycocotools.coco import COCO
  try:
    return COCO(annotation_file)
  except (OSError, ValueError, KeyError) as error:
    raise DatasetError(f'{annotation_file}: not a readable COCO instances file ({error!r})') from None


@dataclasses.dataclass(frozen=True)
class CocoImage:
  """One COCO image as a one-frame video."""

  name: str
  image_path: str
  annotation_file: str
  image_id: int
  source: str = 'coco'
  frame_step: int = 1
  max_objects: int = 255

  @property
  def num_frames(self) -> int:
    return 1

  @property
  def annotated_indices(self) -> tuple[int, ...]:
    return (0,)

  def read_frame(self, index: int) -> np.ndarray:
    return read_frame(self.image_path)

  def read_mask(self, index: int, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """[H, W] uint8 instance ids 1..N (largest instance first), 0 elsewhere."""
    coco = _coco_index(self.annotation_file)
    info = coco.imgs[self.image_id]
    size = (info['height'], info['width'])
    if expected_size is not None and tuple(expected_size) != size:
      raise DatasetError(f'{self.image_path}: the image is {expected_size[1]}x{expected_size[0]} but '
                         f'{self.annotation_file} says {size[1]}x{size[0]}')
    annotations = [a for a in coco.imgToAnns[self.image_id] if not a.get('iscrowd', 0)]
    annotations.sort(key=lambda a: -a.get('area', 0))
    ids = np.zeros(size, np.uint8)
    for k, annotation in enumerate(annotations[:min(self.max_objects, 254)]):
      ids[coco.annToMask(annotation) > 0] = k + 1
    return ids


def coco_images(root: str, split: str = 'train2017', *, min_area: float = 0.0) -> list[CocoImage]:
  """Images of a COCO split with at least one non-crowd instance of area >= min_area.

  Args:
    root: the COCO folder holding `annotations/instances_<split>.json` and `<split>/`.
    split: 'train2017', 'val2017', ...
  """
  annotation_file = os.path.join(root, 'annotations', f'instances_{split}.json')
  image_dir = os.path.join(root, split)
  for path, what in ((annotation_file, 'file'), (image_dir, 'folder')):
    if not (os.path.isfile(path) if what == 'file' else os.path.isdir(path)):
      raise DatasetError(f'{root}: not a COCO folder (missing {what} {path}). Expected annotations/instances_{split}'
                         f'.json and {split}/*.jpg; COCO is published at {COCO_URL}')
  coco = _coco_index(annotation_file)
  images = []
  for image_id in sorted(coco.imgs):
    annotations = [a for a in coco.imgToAnns[image_id] if not a.get('iscrowd', 0) and a.get('area', 0) >= min_area]
    if annotations:
      file_name = coco.imgs[image_id]['file_name']
      images.append(CocoImage(name=file_name, image_path=os.path.join(image_dir, file_name),
                              annotation_file=annotation_file, image_id=image_id))
  if not images:
    raise DatasetError(f'{annotation_file}: no image with a non-crowd instance')
  return images
