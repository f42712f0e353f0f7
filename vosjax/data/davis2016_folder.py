"""Makes the folder the real-video recipe trains on from an official DAVIS download: DAVIS 2016's 30 training videos
in the DAVIS 2017 layout.

    python -m vosjax.data.davis2016_folder --davis DAVIS --out DIR

The recipe (`configs/davis2016_cpu.py`) reads `DIR/ImageSets/2017/train.txt` as its list of training videos, so
`--config.data.davis_root` must name a folder whose list holds DAVIS 2016's training videos only: an official
DAVIS 2017 folder lists DAVIS 2017's 60, and the recipe would train on 54 of them instead of 24. DAVIS may be either
official release:
* the DAVIS 2016 release (`ImageSets/480p/train.txt` of frame/mask pairs, 0/255 masks);
* a DAVIS 2017 folder (`ImageSets/2016/train.txt` names the 2016 videos; their several object ids become one).
DIR receives `JPEGImages/480p/<video>/<frame>.jpg` (copied as they are), `Annotations/480p/<video>/<frame>.png`
(indexed PNGs: 0 background, 1 the object, 255 void) and `ImageSets/2017/train.txt` (the videos, one per line).
"""

from __future__ import annotations

import argparse
import os
import shutil

from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.data.davis import davis_videos
from vosjax.data.image_io import DatasetError, write_indexed_png
from vosjax.files.atomic_write import write_text

PROGRAM = 'vosjax.data.davis2016_folder'


def write_davis2016_folder(davis: str, out: str, split: str = 'train', resolution: str = '480p') -> list[str]:
  """Writes DAVIS 2016's `split` videos of the DAVIS folder `davis` into `out` in the DAVIS 2017 layout.

  Returns:
    The videos written, in the split file's order.

  Raises:
    DatasetError: `davis` is not a DAVIS folder with DAVIS 2016's split, or `out` already holds a split file.
  """
  videos = davis_videos(davis, split, year=2016, resolution=resolution)
  split_file = os.path.join(out, 'ImageSets', '2017', f'{split}.txt')
  if os.path.exists(split_file):
    raise DatasetError(f'{split_file}: exists; give --out a new folder')
  for video in videos:
    frame_dir = os.path.join(out, 'JPEGImages', resolution, video.name)
    mask_dir = os.path.join(out, 'Annotations', resolution, video.name)
    os.makedirs(frame_dir, exist_ok=True)
    for index, (name, frame_path) in enumerate(zip(video.frame_names, video.frame_paths)):
      shutil.copyfile(frame_path, os.path.join(frame_dir, f'{name}{os.path.splitext(frame_path)[1]}'))
      if video.mask_paths[index] is not None:
        write_indexed_png(os.path.join(mask_dir, f'{name}.png'), video.read_mask(index))
  os.makedirs(os.path.dirname(split_file), exist_ok=True)
  write_text(split_file, ''.join(f'{video.name}\n' for video in videos))  # last: a cut-short run has no list
  return [video.name for video in videos]


def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--davis', required=True, help='an official DAVIS 2016 release or DAVIS 2017 folder')
  parser.add_argument('--out', required=True, help='the folder to write (new)')
  parser.add_argument('--split', default='train', help="DAVIS 2016's split to write (train or val)")
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def _write(args: argparse.Namespace) -> None:
  names = write_davis2016_folder(args.davis, args.out, args.split)
  print(f'wrote {len(names)} videos of DAVIS 2016 {args.split} into {args.out} '
        f'(use it as --config.data.davis_root={args.out})')


def main(argv: list[str] | None = None) -> None:
  run_command(PROGRAM, parse_args, _write, argv)


if __name__ == '__main__':
  main()
