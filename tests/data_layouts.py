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


def write_mose(root: str, height=40, width=64, outer_split=True) -> str:
  """valid: 'm1' (6 frames, 2 objects) and 'm2' (4 frames, 1 object), frame 0 annotated only; train: 'm3' (3 frames,
  every frame annotated). `outer_split=False` writes MOSE-api's JPEGImages/<split>/ layout instead."""
  for split, name, frames, objects in (('valid', 'm1', 6, 2), ('valid', 'm2', 4, 1), ('train', 'm3', 3, 1)):
    for t in range(frames):
      ids = square_ids(height, width, t, objects)
      frame_dir = os.path.join(root, split, 'JPEGImages') if outer_split else os.path.join(root, 'JPEGImages', split)
      mask_dir = os.path.join(root, split, 'Annotations') if outer_split else os.path.join(root, 'Annotations', split)
      write_jpeg(os.path.join(frame_dir, name, f'{t:05d}.jpg'), frame_for(ids, t))
      if t == 0 or split == 'train':
        write_indexed_png(os.path.join(mask_dir, name, f'{t:05d}.png'), ids)
  return root


LVOS_FRAMES = 8  # frame ids 1, 6, ..., 36 (6 fps frames named by their 30 fps index)


def lvos_ids(height: int, width: int, t: int) -> np.ndarray:
  """'lv1' at frame t: object 2 from t=0 to t=4 (then it leaves), object 5 from t=2 to the end."""
  ids = np.zeros((height, width), np.uint8)
  if t <= 4:
    ids[4:14, 3 + 2 * t:15 + 2 * t] = 2
  if t >= 2:
    ids[22:32, 40 - 2 * t:52 - 2 * t] = 5
  return ids


def write_lvos(root: str, height=40, width=64, split='valid') -> str:
  """One valid video 'lv1' (dense ground truth, objects 2 and 5 with their own ranges) and one 'lv2' whose first
  two frames have no object (object 1 from t=2)."""
  meta = {'videos': {
      'lv1': {'objects': {'2': {'frame_range': {'start': 1, 'end': 21, 'frame_nums': 5}},
                          '5': {'frame_range': {'start': 11, 'end': 36, 'frame_nums': 6}}}},
      'lv2': {'objects': {'1': {'frame_range': {'start': 11, 'end': 36, 'frame_nums': 6}}}}}}
  for t in range(LVOS_FRAMES):
    stem = f'{1 + 5 * t:08d}'
    ids = lvos_ids(height, width, t)
    write_jpeg(os.path.join(root, split, 'JPEGImages', 'lv1', f'{stem}.jpg'), frame_for(ids, t))
    write_indexed_png(os.path.join(root, split, 'Annotations', 'lv1', f'{stem}.png'), ids)
    ids2 = square_ids(height, width, t, 1) if t >= 2 else np.zeros((height, width), np.uint8)
    write_jpeg(os.path.join(root, split, 'JPEGImages', 'lv2', f'{stem}.jpg'), frame_for(ids2, t))
    if t >= 2:
      write_indexed_png(os.path.join(root, split, 'Annotations', 'lv2', f'{stem}.png'), ids2)
  with open(os.path.join(root, split, f'{split}_meta.json'), 'w') as f:
    json.dump(meta, f)
  return root


def write_long_video(root: str, frames=25, every=6, height=40, width=64) -> str:
  """One video 'blueboy' of `frames` frames with ground truth every `every` frames (and the first), and val.txt."""
  for t in range(frames):
    ids = square_ids(height, width, t % 20, 1)
    write_jpeg(os.path.join(root, 'JPEGImages', 'blueboy', f'{t:05d}.jpg'), frame_for(ids, t))
    if t % every == 0:
      write_indexed_png(os.path.join(root, 'Annotations', 'blueboy', f'{t:05d}.png'), ids)
  with open(os.path.join(root, 'val.txt'), 'w') as f:
    f.write('blueboy\n')
  return root


def rescored_jf(out_dir: str, videos) -> float:
  """J&F-Mean of the PNGs an evaluation wrote under `out_dir`, recomputed here frame by frame with the DAVIS
  measures (every frame but the first and last, each object, means over objects then over J and F)."""
  from vosjax.metrics.davis import boundary_measure, region_similarity
  j_means, f_means = [], []
  for video in videos:
    truths = [video.read_mask(i) for i in range(video.num_frames)]
    predictions = [np.asarray(Image.open(os.path.join(out_dir, video.name, f'{name}.png')))
                   for name in video.frame_names]
    for object_id in sorted(int(i) for i in np.unique(truths[0]) if i not in (0, 255)):
      frames = range(1, video.num_frames - 1)
      j_means.append(np.mean([region_similarity(predictions[t] == object_id, truths[t] == object_id) for t in frames]))
      f_means.append(np.mean([boundary_measure(predictions[t] == object_id, truths[t] == object_id) for t in frames]))
  return float((np.mean(j_means) + np.mean(f_means)) / 2)
