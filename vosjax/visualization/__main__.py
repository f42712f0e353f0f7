"""Writes one frame with its mask overlaid, as a PNG (for pictures in documentation and reports).

  python -m vosjax.visualization --frame FRAME.jpg --mask MASK.png --out OVERLAY.png [--width 640]
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from vosjax.data.image_io import read_frame, read_mask
from vosjax.visualization.overlay import overlay_masks


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--frame', required=True, help='an RGB frame (.jpg, .png)')
  parser.add_argument('--mask', required=True, help='its object ids (an indexed PNG, as segment and evaluate write)')
  parser.add_argument('--out', required=True, help='the overlay PNG to write')
  parser.add_argument('--width', type=int, default=0, help='scale the picture to this width (0: as is)')
  args = parser.parse_args()
  image = read_frame(args.frame)
  ids = read_mask(args.mask, expected_size=image.shape[:2])
  picture = Image.fromarray(overlay_masks(image, np.where(ids == 255, 0, ids)))
  if args.width:
    picture = picture.resize((args.width, round(picture.height * args.width / picture.width)), Image.BILINEAR)
  picture.save(args.out)
  print(f'wrote {args.out} ({picture.width}x{picture.height})')


if __name__ == '__main__':
  main()
