"""Segments your own video with a trained model, given the first frame's mask.

  python -m vosjax.segment --video IN --mask FIRST.png --out DIR [--checkpoint CKPT] \\
      [--short_side S] [--dtype bfloat16] [--objects N] [--fps 24] [--adapt_steps 40]

IN is a video file OpenCV reads (.mp4, ...) or a folder of .jpg/.jpeg/.png frames (in name order). FIRST.png is the
first frame's mask: an indexed PNG of object ids (0 background, 255 void) or a 0/255 grayscale PNG for one object.
CKPT is the name of a model shipped with vosjax (`vosjax.pretrained.names()`; without --checkpoint, the default
one), a training workdir (its latest checkpoint) or `<workdir>/checkpoints/<step>`, as for `evaluate.py` and
`vosjax.export` (`vosjax.inference.model_source`). The model segments at its own internal resolution unless
--short_side says otherwise: a shipped model's, or a workdir's `eval.short_side` (480 where that is native). DIR
receives
`masks/<frame name>.png` (DAVIS-palette indexed PNGs; a video file's frames are named 00000, 00001, ...) and
`overlay.mp4` (the masks blended over the frames). `--adapt_steps N` first trains the network's heads for N steps on
pseudo-clips of the first frame and its mask (`vosjax.training.adaptation`; seconds to minutes on a CPU). Bad input
stops the command with a one-line message, status 2 (`--debug` shows the traceback).

DIR must be empty or new: a folder with files is refused unless `--overwrite`, which first removes what an earlier
run of this command wrote there (masks/, overlay.mp4, INCOMPLETE) and refuses if anything else is in it. While the
command runs, DIR holds a file INCOMPLETE, removed only when every frame is written, so a result cut short by an
error or a kill cannot pass for a whole one.
"""

from __future__ import annotations

import argparse
import os
import time

from vosjax.data.image_io import write_indexed_png
from vosjax.data.user_video import UserVideo, object_ids, open_user_video, read_first_mask, user_video_stream
from vosjax.files import output_folder
from vosjax.inference.engine import VideoSegmenter
from vosjax.inference.model_source import is_shipped, load_model
from vosjax.training.adaptation import LEARNING_RATE, AdaptingSegmenter, FirstFrameAdapter
from vosjax.files.output_folder import INCOMPLETE
from vosjax.cli.progress import Progress
from vosjax.errors import UserError, one_line
from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.visualization.overlay import OverlayVideoWriter
from vosjax.cli.xla_defaults import apply_xla_defaults

PROGRAM = 'vosjax.segment'
OWN_FILES = frozenset({'masks', 'overlay.mp4', INCOMPLETE})
DEFAULT_FOLDER_FPS = 24.0


class SegmentError(UserError, ValueError):
  """A command-line request that cannot be carried out (the message says which argument and why)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--video', required=True, help='a video file (.mp4, ...) or a folder of frame images')
  parser.add_argument('--mask', required=True, help="the first frame's mask (indexed PNG of ids, or 0/255 PNG)")
  parser.add_argument('--checkpoint', default=None,
                      help='a shipped model\'s name (default: vosjax.pretrained\'s default), a training workdir or '
                           '<workdir>/checkpoints/<step>')
  parser.add_argument('--out', required=True, help='the output folder (masks/ and overlay.mp4)')
  parser.add_argument('--short_side', type=int, default=None,
                      help='segment frames whose shorter side is longer at this size (0: native resolution; default: '
                           'the model\'s own: a shipped model\'s, or a workdir\'s eval.short_side)')
  parser.add_argument('--dtype', choices=('float32', 'bfloat16'), default=None,
                      help="computation dtype (default: the checkpoint's)")
  parser.add_argument('--objects', type=int, default=None,
                      help="object slots to allocate (default: the mask's object count)")
  parser.add_argument('--adapt_steps', type=int, default=0,
                      help='adapt the network to the first frame with this many training steps before segmenting '
                           '(default 0: none)')
  parser.add_argument('--adapt_lr', type=float, default=LEARNING_RATE, help='the adaptation\'s learning rate')
  parser.add_argument('--overwrite', action='store_true',
                      help="replace an earlier result in --out (this command's own files only)")
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  parser.add_argument('--fps', type=float, default=None,
                      help=f'frame rate of overlay.mp4 (default: the video\'s own; {DEFAULT_FOLDER_FPS:g} for a '
                           'frame folder)')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  apply_xla_defaults()
  run_command(PROGRAM, parse_args, segment, argv)


def segment(args: argparse.Namespace) -> None:
  """Checks the input, loads the network, segments the video into `args.out` and prints a summary."""
  if args.short_side is not None and args.short_side < 0:
    raise SegmentError(f'--short_side must be 0 (native resolution) or positive, got {args.short_side}')
  if args.fps is not None and not args.fps > 0:
    raise SegmentError(f'--fps must be positive, got {args.fps}')
  if args.adapt_steps < 0 or not args.adapt_lr > 0:
    raise SegmentError(f'--adapt_steps must be >= 0 and --adapt_lr positive, got {args.adapt_steps} and '
                       f'{args.adapt_lr}')
  video = open_user_video(args.video)  # bad input is refused here, before the network is loaded
  first_ids = read_first_mask(args.mask, video)
  objects = object_ids(first_ids)
  if args.objects is not None and args.objects < len(objects):
    raise SegmentError(f'--objects {args.objects} is fewer than the {len(objects)} objects of {args.mask} '
                       f'(ids {list(objects)})')
  fps = _overlay_fps(video, args.fps)
  created = prepare_output(args.out, args.overwrite)  # before the network loads: a bad --out costs nothing

  try:
    loaded = load_model(args.checkpoint, dtype=args.dtype)
  except BaseException:  # nothing was segmented: leave no output behind
    output_folder.discard(args.out, OWN_FILES, created)
    raise
  short_side = (loaded.short_side if args.short_side is None else args.short_side) or None
  print(f'Segmenting {video.path} ({video.num_frames} frames, {video.width}x{video.height}, {len(objects)} objects) '
        f'with {loaded.described} ({loaded.model.config.dtype})', flush=True)
  segmenter = VideoSegmenter(loaded.model, loaded.variables, num_objects=args.objects, short_side=short_side)
  geometry = segmenter.geometry(video.height, video.width)
  adapter = None
  if args.adapt_steps:
    adapter = FirstFrameAdapter(loaded.model, steps=args.adapt_steps, learning_rate=args.adapt_lr,
                                max_objects=max(len(objects), 1))
    segmenter = AdaptingSegmenter(segmenter, adapter)
  if geometry.resized:  # said once, before the first frame
    trained_for = ''
    if args.short_side is None:
      trained_for = (', the resolution this model was trained for' if is_shipped(args.checkpoint) else
                     ', the model\'s own setting')
    print(f'Frames are segmented at {geometry.internal[1]}x{geometry.internal[0]} (internal short side '
          f'{short_side}{trained_for}) and the masks scaled back to {video.width}x{video.height}', flush=True)
  masks_dir = os.path.join(args.out, 'masks')
  overlay_path = os.path.join(args.out, 'overlay.mp4')
  progress = Progress(video.num_frames, 'segmenting')
  began = time.perf_counter()
  done = 0
  try:
    with OverlayVideoWriter(overlay_path, fps, video.size) as overlay:
      for frame, ids in segmenter.segment(user_video_stream(video, first_ids)):
        write_indexed_png(os.path.join(masks_dir, f'{frame.name}.png'), ids)
        overlay.write(frame.image, ids)
        done += 1
        progress.update(done)
  except UserError as error:  # e.g. a frame that turns out corrupt mid-video
    progress.close()
    raise SegmentError(f'{one_line(error)}; stopped after {done} of {video.num_frames} frames, so {args.out} holds a '
                       f'partial result (marked by its file {INCOMPLETE})') from None
  progress.close()
  output_folder.finish(args.out)
  seconds = time.perf_counter() - began
  print(f'Segmented {done} frames, {len(objects)} objects (ids {", ".join(map(str, objects))}) in {seconds:.1f}s '
        f'({done / seconds:.1f} frames/s, compilation included)')
  if adapter is not None and adapter.seconds:
    print(f'  adapted to the first frame: {adapter.steps} steps in {adapter.seconds[0]:.1f}s (included above)')
  print(f'  masks:   {masks_dir}/ ({done} PNGs)')
  print(f'  overlay: {overlay_path} ({fps:g} fps)', flush=True)


def prepare_output(out: str, overwrite: bool) -> bool:
  """Makes `out` an empty, writable folder holding only the INCOMPLETE marker (see the module docstring); True if
  it created `out`."""
  return output_folder.prepare_output(out, overwrite, OWN_FILES.__contains__, SegmentError,
                               'vosjax.segment has not finished writing this folder; its masks are partial.\n',
                               subfolders=('masks',))


def _overlay_fps(video: UserVideo, requested: float | None) -> float:
  """--fps if given, else the video file's own rate, else the default for a frame folder."""
  if requested is not None:
    return requested
  return video.fps or DEFAULT_FOLDER_FPS


if __name__ == '__main__':
  main()
