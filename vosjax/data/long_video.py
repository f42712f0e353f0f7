"""The Long-time Video dataset of AFB-URR (also used by XMem): three videos of thousands of frames, sparse masks.

    <root>/JPEGImages/<video>/<frame>.jpg    every frame (no resolution level)
    <root>/Annotations/<video>/<frame>.png   the first frame's mask and ground truth about every 100 frames
    <root>/val.txt                           optional: the video names, one per line (default: every folder)

Only the first mask is given to the tracker; scoring uses the annotated frames alone (`docs/datasets.md`).
"""

from __future__ import annotations

import os

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo, pair_frames_and_masks

LONG_VIDEO_URL = 'https://www.kaggle.com/gvclsu/long-videos'


def long_video_videos(root: str, split: str = 'val', *, source: str = 'long_video') -> list[FileVideo]:
  """Lists the videos (those of `<root>/<split>.txt` if it exists, else every folder of JPEGImages/)."""
  frame_root, mask_root = os.path.join(root, 'JPEGImages'), os.path.join(root, 'Annotations')
  missing = [p for p in (frame_root, mask_root) if not os.path.isdir(p)]
  if missing:
    raise DatasetError(f'{root}: not a Long-time Video folder (missing {", ".join(missing)}). Expected '
                       f'JPEGImages/<video>/ and Annotations/<video>/; published at {LONG_VIDEO_URL}')
  split_file = os.path.join(root, f'{split}.txt')
  if os.path.isfile(split_file):
    with open(split_file) as f:
      names = [line.strip() for line in f if line.strip()]
  else:
    names = sorted(n for n in os.listdir(frame_root) if os.path.isdir(os.path.join(frame_root, n)))
  if not names:
    raise DatasetError(f'{root}: no video listed')
  videos = []
  for name in names:
    frame_dir = os.path.join(frame_root, name)
    if not os.path.isdir(frame_dir):
      raise DatasetError(f'{frame_dir}: video {name!r} has no frame folder')
    videos.append(pair_frames_and_masks(name, source, frame_dir, os.path.join(mask_root, name),
                                        require_all_masks=False))
  return videos
