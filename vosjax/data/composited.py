"""A multi-object evaluation set made from single-object videos: one video's object composited into another's frames.

    python -m vosjax.data.composited --davis_root DAVIS2016_TRAIN --videos bear,bmx-bumps,... --out DIR

DAVIS 2016 annotates one object per video. For each video A of `--videos`, the next one in the list, B, lends its
object: B's frames, scaled by `scale` about the object's first-frame centre and moved to the side of the frame away
from A's object, are blended over A's frames through B's mask (a soft edge), frame by frame, so the object keeps its
own motion and deformation, and it occludes what is under it. The result, `A+B`, has two objects (1: A's, 2: B's),
as many frames as the shorter video, real pixels only, and is written in the DAVIS 2017 layout
(`JPEGImages/480p`, `Annotations/480p` with the DAVIS palette, `ImageSets/2017/val.txt`), so that
`evaluate.py --config.eval.dataset=davis --config.data.davis_root=DIR --split val` scores it like any DAVIS split.
The set is composited, not filmed: the two objects never interact, and the lighting of B's object is B's.
"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

import numpy as np
from PIL import Image

from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.data import davis_videos
from vosjax.data.image_io import DatasetError, write_indexed_png


def placement(a_ids: np.ndarray, b_ids: np.ndarray, scale: float) -> np.ndarray:
  """The 3x3 map (B's pixels -> A's) that shrinks B about its object's centre and moves it beside A's object.

  Args:
    a_ids: [H, W] A's first-frame ids.
    b_ids: [H', W'] B's first-frame ids.
    scale: B's object's size in A relative to its own.
  """
  height, width = a_ids.shape
  ys, xs = np.nonzero(b_ids > 0)
  if not len(ys):
    raise DatasetError('the lending video has no object in its first frame')
  b_centre = np.array([xs.mean(), ys.mean()])
  a_ys, a_xs = np.nonzero(a_ids > 0)
  a_x = a_xs.mean() if len(a_xs) else width / 2
  target = np.array([width * (0.25 if a_x > width / 2 else 0.75), height * 0.5])
  move = np.array([[1, 0, target[0]], [0, 1, target[1]], [0, 0, 1]], np.float64)
  shrink = np.diag([scale, scale, 1.0])
  centre = np.array([[1, 0, -b_centre[0]], [0, 1, -b_centre[1]], [0, 0, 1]], np.float64)
  return move @ shrink @ centre


def _warp(array: np.ndarray, forward: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
  inverse = np.linalg.inv(forward)
  image = Image.fromarray(array).transform((size[1], size[0]), Image.Transform.AFFINE,
                                           data=tuple(inverse[:2].reshape(-1)), resample=resample, fillcolor=0)
  return np.asarray(image)


def composite_frame(a_frame: np.ndarray, a_ids: np.ndarray, b_frame: np.ndarray, b_ids: np.ndarray,
                    forward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """One composited frame.

  Args:
    a_frame, a_ids: [H, W, 3] uint8 and [H, W] uint8 (object > 0) of the receiving video.
    b_frame, b_ids: the lending video's frame and ids (any size).
    forward: `placement`'s map.

  Returns:
    ([H, W, 3] uint8 frame, [H, W] uint8 ids: 0, 1 = A's object, 2 = B's object where its alpha is at least 1/2).
  """
  size = a_ids.shape
  pixels = _warp(b_frame, forward, size, Image.Resampling.BILINEAR).astype(np.float32)
  coverage = ((b_ids > 0) & (b_ids != 255)).astype(np.uint8) * 255
  alpha = _warp(coverage, forward, size, Image.Resampling.BILINEAR).astype(np.float32)[..., None] / 255.0
  frame = np.clip(np.rint(a_frame * (1.0 - alpha) + pixels * alpha), 0, 255).astype(np.uint8)
  ids = np.where((a_ids > 0) & (a_ids != 255), 1, 0).astype(np.uint8)
  ids[alpha[..., 0] >= 0.5] = 2
  return frame, ids


def write_composited_set(davis_root: str, names: Sequence[str], out: str, scale: float = 0.6,
                         split: str = 'train') -> list[str]:
  """Writes one `A+B` video per name (B: the next name, cyclically) into `out`; returns their names."""
  if len(names) < 2:
    raise DatasetError('--videos: at least two videos are needed to composite pairs')
  by_name = {video.name: video for video in davis_videos(davis_root, split)}
  missing = [name for name in names if name not in by_name]
  if missing:
    raise DatasetError(f'{davis_root}: no video {", ".join(missing)} in its {split} split')
  written = []
  for i, name in enumerate(names):
    a, b = by_name[name], by_name[names[(i + 1) % len(names)]]
    pair = f'{a.name}+{b.name}'
    frames = min(len(a.frame_paths), len(b.frame_paths))
    forward = None
    for t in range(frames):
      a_frame, b_frame = a.read_frame(t), b.read_frame(t)
      a_ids, b_ids = a.read_mask(t, a_frame.shape[:2]), b.read_mask(t, b_frame.shape[:2])
      if forward is None:
        forward = placement(a_ids, b_ids, scale)
      frame, ids = composite_frame(a_frame, a_ids, b_frame, b_ids, forward)
      frame_path = os.path.join(out, 'JPEGImages', '480p', pair, f'{t:05d}.jpg')
      os.makedirs(os.path.dirname(frame_path), exist_ok=True)
      Image.fromarray(frame).save(frame_path, quality=95)
      write_indexed_png(os.path.join(out, 'Annotations', '480p', pair, f'{t:05d}.png'), ids)
    written.append(pair)
    print(f'{pair}: {frames} frames', flush=True)
  os.makedirs(os.path.join(out, 'ImageSets', '2017'), exist_ok=True)
  with open(os.path.join(out, 'ImageSets', '2017', 'val.txt'), 'w') as f:
    f.write('\n'.join(written) + '\n')
  return written


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = ArgumentParser(prog='python -m vosjax.data.composited', description=__doc__.split('\n')[0])
  parser.add_argument('--davis_root', required=True, help='single-object videos in the DAVIS 2017 layout')
  parser.add_argument('--videos', required=True, help='comma-separated names of its train split, in pair order')
  parser.add_argument('--out', required=True, help='the composited set (DAVIS 2017 layout, split val)')
  parser.add_argument('--scale', type=float, default=0.6, help="the lent object's size relative to its own")
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def _write(args: argparse.Namespace) -> None:
  write_composited_set(args.davis_root, [n for n in args.videos.split(',') if n], args.out, args.scale)


def main(argv: Sequence[str] | None = None) -> None:
  run_command('vosjax.data.composited', parse_args, _write, argv)


if __name__ == '__main__':
  main()
