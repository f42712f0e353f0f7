"""Segments your own video with a trained checkpoint, given the first frame's mask.

  python -m vosjax.segment --video IN --mask FIRST.png --checkpoint CKPT --out DIR \\
      [--short_side 480] [--dtype bfloat16] [--objects N] [--fps 24]

IN is a video file OpenCV reads (.mp4, ...) or a folder of .jpg/.jpeg/.png frames (in name order). FIRST.png is the
first frame's mask: an indexed PNG of object ids (0 background, 255 void) or a 0/255 grayscale PNG for one object.
CKPT is a training workdir (its latest checkpoint) or `<workdir>/checkpoints/<step>`. DIR receives
`masks/<frame name>.png` (DAVIS-palette indexed PNGs; a video file's frames are named 00000, 00001, ...) and
`overlay.mp4` (the masks blended over the frames). Bad input stops the command with a one-line message, status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from vosjax.data.image_io import DatasetError, write_indexed_png
from vosjax.data.user_video import UserVideo, object_ids, open_user_video, read_first_mask, user_video_stream
from vosjax.inference.checkpoint_loading import CheckpointNotFoundError, load_network
from vosjax.inference.engine import VideoSegmenter
from vosjax.progress import Progress
from vosjax.visualization.overlay import OverlayVideoError, OverlayVideoWriter
from vosjax.xla_defaults import apply_xla_defaults

PROGRAM = 'vosjax.segment'
DEFAULT_FOLDER_FPS = 24.0


class SegmentError(ValueError):
  """A command-line request that cannot be carried out (the message says which argument and why)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--video', required=True, help='a video file (.mp4, ...) or a folder of frame images')
  parser.add_argument('--mask', required=True, help="the first frame's mask (indexed PNG of ids, or 0/255 PNG)")
  parser.add_argument('--checkpoint', required=True, help='a training workdir or <workdir>/checkpoints/<step>')
  parser.add_argument('--out', required=True, help='the output folder (masks/ and overlay.mp4)')
  parser.add_argument('--short_side', type=int, default=480,
                      help='segment frames whose shorter side is longer at this size (0: native resolution)')
  parser.add_argument('--dtype', choices=('float32', 'bfloat16'), default=None,
                      help="computation dtype (default: the checkpoint's)")
  parser.add_argument('--objects', type=int, default=None,
                      help="object slots to allocate (default: the mask's object count)")
  parser.add_argument('--fps', type=float, default=None,
                      help=f'frame rate of overlay.mp4 (default: the video\'s own; {DEFAULT_FOLDER_FPS:g} for a '
                           'frame folder)')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  apply_xla_defaults()
  args = parse_args(argv)
  try:
    segment(args)
  except (DatasetError, CheckpointNotFoundError, OverlayVideoError, SegmentError) as error:
    print(f'{PROGRAM}: {error}', file=sys.stderr)
    sys.exit(2)


def segment(args: argparse.Namespace) -> None:
  """Checks the input, loads the network, segments the video into `args.out` and prints a summary."""
  if args.short_side < 0:
    raise SegmentError(f'--short_side must be 0 (native resolution) or positive, got {args.short_side}')
  if args.fps is not None and not args.fps > 0:
    raise SegmentError(f'--fps must be positive, got {args.fps}')
  video = open_user_video(args.video)  # bad input is refused here, before the network is loaded
  first_ids = read_first_mask(args.mask, video)
  objects = object_ids(first_ids)
  if args.objects is not None and args.objects < len(objects):
    raise SegmentError(f'--objects {args.objects} is fewer than the {len(objects)} objects of {args.mask} '
                       f'(ids {list(objects)})')
  fps = _overlay_fps(video, args.fps)
  if os.path.exists(args.out) and not os.path.isdir(args.out):
    raise SegmentError(f'{args.out}: exists and is not a folder')

  overrides = {'dtype': args.dtype} if args.dtype else {}
  try:
    model, variables, location = load_network(args.checkpoint, **overrides)
  except ValueError as error:  # a config.json or checkpoint that is not this library's
    raise SegmentError(str(error)) from None
  print(f'Segmenting {video.path} ({video.num_frames} frames, {video.width}x{video.height}, {len(objects)} objects) '
        f'with {location.directory}/{location.step} ({model.config.dtype})', flush=True)

  segmenter = VideoSegmenter(model, variables, num_objects=args.objects, short_side=args.short_side or None)
  masks_dir = os.path.join(args.out, 'masks')
  os.makedirs(masks_dir, exist_ok=True)
  overlay_path = os.path.join(args.out, 'overlay.mp4')
  progress = Progress(video.num_frames, 'segmenting')
  began = time.perf_counter()
  done = 0
  with OverlayVideoWriter(overlay_path, fps, video.size) as overlay:
    for frame, ids in segmenter.segment(user_video_stream(video, first_ids)):
      write_indexed_png(os.path.join(masks_dir, f'{frame.name}.png'), ids)
      overlay.write(frame.image, ids)
      done += 1
      progress.update(done)
  progress.close()
  seconds = time.perf_counter() - began
  print(f'Segmented {done} frames, {len(objects)} objects (ids {", ".join(map(str, objects))}) in {seconds:.1f}s '
        f'({done / seconds:.1f} frames/s, compilation included)')
  print(f'  masks:   {masks_dir}/ ({done} PNGs)')
  print(f'  overlay: {overlay_path} ({fps:g} fps)', flush=True)


def _overlay_fps(video: UserVideo, requested: float | None) -> float:
  """--fps if given, else the video file's own rate, else the default for a frame folder."""
  if requested is not None:
    return requested
  return video.fps or DEFAULT_FOLDER_FPS


if __name__ == '__main__':
  main()
