"""YouTube-VOS 2018 and 2019 reader (layout in the project notes; 2019 has the same layout, more videos and objects).

* train: every listed frame (every 5th frame of the 30 fps video) has an indexed mask; `meta.json` lists each
  object's frames. Temporal skips are scaled by `frame_step = 5`.
* valid: each object is annotated only in the frame where it first appears; ids may be non-contiguous. The frames a
  submission must contain are those listed in `meta.json` (`output_frames`). With `all_frames_root` the frames are
  read from `valid_all_frames/JPEGImages` (every frame) while masks stay those of `valid/Annotations`.
"""

from __future__ import annotations

import json
import os

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo, pair_frames_and_masks

YOUTUBE_VOS_URL = 'https://youtube-vos.org/dataset/vos/'


def youtube_vos_videos(root: str, split: str = 'train', *, all_frames_root: str | None = None,
                       source: str = 'youtube_vos', year: int = 2018) -> list[FileVideo]:
  """Lists the videos of a YouTube-VOS 2018 or 2019 split (never mix the two releases' files).

  Args:
    root: the folder holding `train/` and `valid/`.
    split: 'train' or 'valid'.
    all_frames_root: optional folder holding `JPEGImages/<vid>/` with every frame (valid_all_frames).
    source: the name recorded in each video.
    year: 2018 or 2019 (the layouts are the same; the year only names the release in error messages).
  """
  split_dir = os.path.join(root, split)
  meta_path = os.path.join(split_dir, 'meta.json')
  for path in (os.path.join(split_dir, 'JPEGImages'), os.path.join(split_dir, 'Annotations')):
    if not os.path.isdir(path):
      raise DatasetError(f'{root}: not a YouTube-VOS {year} folder (missing {path}). Expected '
                         f'{split}/JPEGImages/<vid>/, '
                         f'{split}/Annotations/<vid>/ and {split}/meta.json; published at {YOUTUBE_VOS_URL}')
  if not os.path.isfile(meta_path):
    raise DatasetError(f'{meta_path}: meta.json not found')
  try:
    with open(meta_path) as f:
      meta = json.load(f)['videos']
  except (json.JSONDecodeError, KeyError, TypeError) as error:
    raise DatasetError(f'{meta_path}: not a YouTube-VOS meta.json ({error!r})') from None
  frames_root = os.path.join(all_frames_root or split_dir, 'JPEGImages')
  videos = []
  for name in sorted(meta):
    objects = meta[name].get('objects', {})
    listed = sorted({frame for obj in objects.values() for frame in obj.get('frames', [])})
    frame_dir = os.path.join(frames_root, name)
    if not os.path.isdir(frame_dir):
      raise DatasetError(f'{frame_dir}: video {name!r} listed in {meta_path} has no frame folder')
    videos.append(pair_frames_and_masks(
        name, source, frame_dir, os.path.join(split_dir, 'Annotations', name),
        require_all_masks=split == 'train' and all_frames_root is None,
        frame_step=1 if all_frames_root else 5,
        output_frames=tuple(listed) if split != 'train' else None))
  return videos
