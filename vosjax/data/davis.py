"""DAVIS 2017 and DAVIS 2016 readers (the layouts as the datasets publish them; docs/datasets.md).

* DAVIS 2017: `JPEGImages/{480p,Full-Resolution}/<seq>/*.jpg`, `Annotations/<res>/<seq>/*.png` (indexed),
  `ImageSets/2017/<split>.txt`. The synthetic dataset is written in this layout too.
* DAVIS 2016 inside a DAVIS 2017 folder: `ImageSets/2016/<split>.txt` selects the sequences; object ids are merged
  into one object (void stays void).
* The DAVIS 2016 release: `JPEGImages/{480p,1080p}`, 0/255 grayscale masks, `ImageSets/<res>/<split>.txt` whose lines
  are `/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png`.
"""

from __future__ import annotations

import os

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo, pair_frames_and_masks

DAVIS_URL = 'https://davischallenge.org/davis2017/code.html'


def _read_split_file(path: str) -> list[str]:
  if not os.path.isfile(path):
    raise DatasetError(f'{path}: split file not found')
  with open(path) as f:
    lines = [line.strip() for line in f if line.strip()]
  if not lines:
    raise DatasetError(f'{path}: split file is empty')
  return lines


def check_davis_root(root: str, resolution: str) -> None:
  """Stops early, naming what is missing, when `root` is not a DAVIS folder."""
  expected = [os.path.join(root, 'JPEGImages', resolution), os.path.join(root, 'Annotations', resolution),
              os.path.join(root, 'ImageSets')]
  missing = [p for p in expected if not os.path.isdir(p)]
  if missing:
    raise DatasetError(
        f'{root}: not a DAVIS folder (missing {", ".join(missing)}). Expected JPEGImages/{resolution}/<seq>/, '
        f'Annotations/{resolution}/<seq>/ and ImageSets/; DAVIS is published at {DAVIS_URL}')


def davis_videos(root: str, split: str = 'train', *, year: int = 2017, resolution: str = '480p',
                 require_all_masks: bool = True, source: str = 'davis') -> list[FileVideo]:
  """Lists the videos of a DAVIS split.

  Args:
    root: the DAVIS folder (the one holding JPEGImages/, Annotations/, ImageSets/).
    split: 'train', 'val', 'test-dev', ...
    year: 2017, or 2016 (single object: the ImageSets/2016 subset of a 2017 folder, or the 2016 release).
    resolution: '480p', 'Full-Resolution' (2017) or '1080p' (2016 release).
    require_all_masks: every frame must have a mask (training and scoring); False needs only the first frame's
      (test-dev, inference).
    source: the name recorded in each video.

  Returns:
    One FileVideo per sequence, in split-file order.
  """
  if not os.path.isdir(root):
    raise DatasetError(f'{root}: DAVIS root folder not found; DAVIS is published at {DAVIS_URL}')
  if year == 2016 and os.path.isfile(os.path.join(root, 'ImageSets', resolution, f'{split}.txt')):
    return _davis2016_release(root, split, resolution, require_all_masks, source)
  check_davis_root(root, resolution)
  split_file = os.path.join(root, 'ImageSets', str(year), f'{split}.txt')
  sequences = _read_split_file(split_file)
  videos = []
  for name in sequences:
    frame_dir = os.path.join(root, 'JPEGImages', resolution, name)
    if not os.path.isdir(frame_dir):
      raise DatasetError(f'{frame_dir}: sequence {name!r} listed in {split_file} has no frame folder')
    videos.append(pair_frames_and_masks(name, source, frame_dir, os.path.join(root, 'Annotations', resolution, name),
                                        require_all_masks=require_all_masks, merge_objects=year == 2016))
  return videos


def _davis2016_release(root: str, split: str, resolution: str, require_all_masks: bool,
                       source: str) -> list[FileVideo]:
  split_file = os.path.join(root, 'ImageSets', resolution, f'{split}.txt')
  sequences: dict[str, None] = {}
  for line in _read_split_file(split_file):
    parts = line.split()
    if len(parts) != 2:
      raise DatasetError(f'{split_file}: expected "<frame path> <mask path>" per line, got {line!r}')
    sequences[parts[0].strip('/').split('/')[-2]] = None
  videos = []
  for name in sequences:
    frame_dir = os.path.join(root, 'JPEGImages', resolution, name)
    videos.append(pair_frames_and_masks(name, source, frame_dir, os.path.join(root, 'Annotations', resolution, name),
                                        require_all_masks=require_all_masks, binary_masks=True))
  return videos
