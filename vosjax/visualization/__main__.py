"""Writes one frame with its mask overlaid, as a PNG (for pictures in documentation and reports).

  python -m vosjax.visualization --frame FRAME.jpg --mask MASK.png --out OVERLAY.png [--width 640]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.data.image_io import read_frame, read_mask
from vosjax.errors import UserError
from vosjax.files.atomic_write import atomic_path
from vosjax.visualization.overlay import overlay_masks

PROGRAM = 'vosjax.visualization'


def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--frame', required=True, help='an RGB frame (.jpg, .png)')
  parser.add_argument('--mask', required=True, help='its object ids (an indexed PNG, as segment and evaluate write)')
  parser.add_argument('--out', required=True, help='the overlay PNG to write')
  parser.add_argument('--width', type=int, default=0, help='scale the picture to this width (0: as is)')
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  run_command(PROGRAM, parse_args, write_overlay, argv)


def write_overlay(args: argparse.Namespace) -> None:
  """Writes the overlay PNG the arguments describe."""
  if args.width < 0:
    raise UserError(f'--width must be 0 (as is) or positive, got {args.width}')
  if not args.out.lower().endswith('.png'):
    raise UserError(f'--out {args.out}: the overlay is written as a PNG; give a .png path')
  image = read_frame(args.frame)
  ids = read_mask(args.mask, expected_size=image.shape[:2])
  picture = Image.fromarray(overlay_masks(image, np.where(ids == 255, 0, ids)))
  if args.width:
    picture = picture.resize((args.width, round(picture.height * args.width / picture.width)), Image.BILINEAR)
  try:
    with atomic_path(args.out) as temporary:
      picture.save(temporary, format='PNG')
  except OSError as error:
    raise UserError(f'{args.out}: cannot write the overlay ({error.strerror or error})') from None
  print(f'wrote {args.out} ({picture.width}x{picture.height})')


if __name__ == '__main__':
  main()
