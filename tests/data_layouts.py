"""Small datasets in the real layouts, written by the tests themselves."""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

from vosjax.data.image_io import write_indexed_png, write_jpeg


def square_ids(height: int, width: int, t: int, objects: int) -> np.ndarray:
  """Object k is a 10x12 box moving right by 2 px per frame."""
  ids = np.zeros((height, width), np.uint8)
  for k in range(objects):
    top, left = 4 + 14 * k, 3 + 2 * t
    ids[top:top + 10, left:left + 12] = k + 1
  return ids


def frame_for(ids: np.ndarray, t: int) -> np.ndarray:
  rng = np.random.default_rng(t)
  frame = rng.integers(0, 60, ids.shape + (3,), dtype=np.uint8)
  frame[ids > 0] = 200
  return frame


def write_davis2017(root: str, sequences: dict[str, tuple[str, int, int]], height=40, width=64,
                    resolution='480p') -> str:
  """sequences: name -> (split, frames, objects)."""
  splits: dict[str, list[str]] = {}
  for name, (split, frames, objects) in sequences.items():
    for t in range(frames):
      ids = square_ids(height, width, t, objects)
      write_jpeg(os.path.join(root, 'JPEGImages', resolution, name, f'{t:05d}.jpg'), frame_for(ids, t))
      write_indexed_png(os.path.join(root, 'Annotations', resolution, name, f'{t:05d}.png'), ids)
    splits.setdefault(split, []).append(name)
  os.makedirs(os.path.join(root, 'ImageSets', '2017'), exist_ok=True)
  for split, names in splits.items():
    with open(os.path.join(root, 'ImageSets', '2017', f'{split}.txt'), 'w') as f:
      f.write('\n'.join(names) + '\n')
  return root


def write_davis2016_release(root: str, name='bear', frames=4, height=40, width=64) -> str:
  lines = []
  for t in range(frames):
    ids = square_ids(height, width, t, 1)
    frame_path = os.path.join(root, 'JPEGImages', '480p', name, f'{t:05d}.jpg')
    mask_path = os.path.join(root, 'Annotations', '480p', name, f'{t:05d}.png')
    write_jpeg(frame_path, frame_for(ids, t))
    os.makedirs(os.path.dirname(mask_path), exist_ok=True)
    Image.fromarray((ids > 0).astype(np.uint8) * 255, mode='L').save(mask_path)
    lines.append(f'/JPEGImages/480p/{name}/{t:05d}.jpg /Annotations/480p/{name}/{t:05d}.png')
  os.makedirs(os.path.join(root, 'ImageSets', '480p'), exist_ok=True)
  with open(os.path.join(root, 'ImageSets', '480p', 'val.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return root


def write_youtube_vos(root: str, height=40, width=64) -> str:
  """train: one video, every listed frame annotated. valid: object 1 from frame 00000, object 4 from 00010."""
  frames = [f'{5 * i:05d}' for i in range(4)]
  meta = {'videos': {'vidA': {'objects': {'1': {'category': 'cat', 'frames': frames},
                                          '2': {'category': 'dog', 'frames': frames}}}}}
  for t, frame in enumerate(frames):
    ids = square_ids(height, width, t, 2)
    write_jpeg(os.path.join(root, 'train', 'JPEGImages', 'vidA', f'{frame}.jpg'), frame_for(ids, t))
    write_indexed_png(os.path.join(root, 'train', 'Annotations', 'vidA', f'{frame}.png'), ids)
  with open(os.path.join(root, 'train', 'meta.json'), 'w') as f:
    json.dump(meta, f)
  valid_meta = {'videos': {'vidB': {'objects': {'1': {'frames': frames}, '4': {'frames': frames[2:]}}}}}
  for t, frame in enumerate(frames):
    ids = square_ids(height, width, t, 2)
    ids[ids == 2] = 4 if t >= 2 else 0  # object 4 appears at the third listed frame
    write_jpeg(os.path.join(root, 'valid', 'JPEGImages', 'vidB', f'{frame}.jpg'), frame_for(ids, t))
    if t == 0:
      write_indexed_png(os.path.join(root, 'valid', 'Annotations', 'vidB', f'{frame}.png'), np.where(ids == 1, 1, 0))
    if t == 2:
      write_indexed_png(os.path.join(root, 'valid', 'Annotations', 'vidB', f'{frame}.png'), np.where(ids == 4, 4, 0))
  with open(os.path.join(root, 'valid', 'meta.json'), 'w') as f:
    json.dump(valid_meta, f)
  return root
