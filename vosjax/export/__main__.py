"""Exports a trained tracker as `jax.export` artifacts, or segments a video with such artifacts alone.

  python -m vosjax.export --checkpoint CKPT --out DIR [--height 480 --width 854 --objects 1 --short_side S]
      [--step N] [--platforms cpu,cuda]
  python -m vosjax.export --run DIR --frames FRAMES --first_mask FIRST.png --out MASKS

CKPT is the name of a model shipped with vosjax (`vosjax.pretrained.names()`), a training workdir (its latest
checkpoint, or --step N) or `<workdir>/checkpoints/<step>`, as for `evaluate.py` and `vosjax.segment`
(`vosjax.inference.model_source`); it is exported at its own internal resolution unless --short_side says otherwise.
DIR receives start.jaxexport, step.jaxexport, weights.npz and manifest.json for H x W frames and up to K objects
(networks with a fixed-size state: GAM, or a memory bank with `memory_recent`). The run mode loads no model code:
FRAMES is a folder of .jpg/.jpeg/.png frames of the exported size (or a video file), FIRST.png the first frame's mask (indexed PNG of object ids, or 0/255 grayscale for one object), and
MASKS receives `<frame name>.png` (DAVIS-palette indexed PNGs). An output folder with files is refused unless
`--overwrite`, which removes only this command's own files; while the run mode writes, MASKS holds a file
INCOMPLETE. Bad input is one line and status 2 (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import time

from vosjax.files import output_folder
from vosjax.export.artifact_format import ARTIFACT_FILES, MANIFEST_FILE
from vosjax.files.output_folder import INCOMPLETE
from vosjax.cli.progress import Progress
from vosjax.errors import UserError, one_line
from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.cli.xla_defaults import apply_xla_defaults

PROGRAM = 'vosjax.export'
EXPORT_FILES = frozenset(ARTIFACT_FILES + (MANIFEST_FILE,))


class ExportCommandError(UserError, ValueError):
  """A command-line request that cannot be carried out (the message says which argument and why)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  mode = parser.add_mutually_exclusive_group(required=True)
  mode.add_argument('--checkpoint', help='export: a shipped model\'s name, a training workdir or '
                                         '<workdir>/checkpoints/<step>')
  mode.add_argument('--run', metavar='DIR', help='run: an artifact folder written by the export mode')
  parser.add_argument('--out', required=True, help='the artifact folder (export) or the masks folder (run)')
  parser.add_argument('--height', type=int, default=480, help='export: frame height the artifact accepts')
  parser.add_argument('--width', type=int, default=854, help='export: frame width the artifact accepts')
  parser.add_argument('--objects', type=int, default=1, help='export: object slots (a video may use fewer)')
  parser.add_argument('--short_side', type=int, default=None,
                      help='export: segment at this internal shorter side when the frame is larger (0: native; '
                           'default: the model\'s own, as vosjax.segment)')
  parser.add_argument('--step', type=int, default=None, help="export: the checkpoint step (default: the latest)")
  parser.add_argument('--platforms', default='cpu', help='export: comma-separated platforms, e.g. cpu,cuda')
  parser.add_argument('--frames', help='run: a folder of frame images (or a video file)')
  parser.add_argument('--first_mask', help="run: the first frame's mask PNG")
  parser.add_argument('--overwrite', action='store_true', help="replace this command's own files in --out")
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  apply_xla_defaults()
  run_command(PROGRAM, parse_args, command, argv)


def command(args: argparse.Namespace) -> None:
  if args.run is not None:
    run_artifact(args)
  else:
    export(args)


def export(args: argparse.Namespace) -> None:
  """Loads the network from the workdir and writes the artifacts into `args.out`."""
  if args.frames is not None or args.first_mask is not None:
    raise ExportCommandError('--frames and --first_mask belong to --run; the export mode takes --checkpoint')
  for flag in ('height', 'width', 'objects'):
    if getattr(args, flag) < 1:
      raise ExportCommandError(f'--{flag} must be positive, got {getattr(args, flag)}')
  if args.short_side is not None and args.short_side < 0:
    raise ExportCommandError(f'--short_side must be 0 (native resolution) or positive, got {args.short_side}')
  platforms = tuple(p.strip() for p in args.platforms.split(',') if p.strip())
  created = prepare_output(args.out, args.overwrite, EXPORT_FILES)  # before the network loads: a bad --out is cheap
  from vosjax.export.writer import export_tracker  # model code only in this mode
  from vosjax.inference.model_source import load_model
  try:
    loaded = load_model(args.checkpoint, step=args.step)
    model = loaded.model
    short_side = (loaded.short_side if args.short_side is None else args.short_side) or None
    began = time.perf_counter()
    manifest = export_tracker(model, loaded.variables, args.out, args.height, args.width, args.objects,
                              short_side=short_side, platforms=platforms)
  except BaseException:  # nothing was exported: leave no output behind
    output_folder.discard(args.out, EXPORT_FILES, created)
    raise
  output_folder.finish(args.out)
  print(f'Exported {loaded.described} ({model.config.dtype}) for {args.width}x{args.height} (WxH) '
        f'frames, {args.objects} object slots, platforms {",".join(platforms)} in '
        f'{time.perf_counter() - began:.1f}s:')
  for name in (*ARTIFACT_FILES, MANIFEST_FILE):
    print(f'  {os.path.join(args.out, name)}  {_size(os.path.getsize(os.path.join(args.out, name)))}')
  print(f'Run it (numpy and jax only): python -m {PROGRAM} --run {args.out} --frames FRAMES --first_mask FIRST.png '
        '--out MASKS')
  print(f'  or in Python: from vosjax.export import ExportedTracker; ExportedTracker({args.out!r}).segment(frames, '
        'first_ids)', flush=True)


def run_artifact(args: argparse.Namespace) -> None:
  """Segments `args.frames` with the artifacts in `args.run` into palette PNGs in `args.out`."""
  from vosjax.data.image_io import write_indexed_png
  from vosjax.data.user_video import object_ids, open_user_video, read_first_mask
  from vosjax.export.runner import ExportedTracker
  if args.frames is None or args.first_mask is None:
    raise ExportCommandError('--run needs --frames (the video) and --first_mask (its first frame\'s mask)')
  tracker = ExportedTracker(args.run)  # a damaged artifact is refused before anything is written
  video = open_user_video(args.frames)
  if video.size != (tracker.height, tracker.width):
    raise ExportCommandError(f'{args.frames}: frames are {video.width}x{video.height} (WxH) but {args.run} was '
                             f'exported for {tracker.width}x{tracker.height}; export again with --height '
                             f'{video.height} --width {video.width}')
  first_ids = read_first_mask(args.first_mask, video)
  objects = object_ids(first_ids)
  if len(objects) > tracker.objects:
    raise ExportCommandError(f'{args.first_mask}: {len(objects)} objects (ids {list(objects)}) but {args.run} was '
                             f'exported for {tracker.objects} object slots; export again with --objects '
                             f'{len(objects)}')
  prepare_output(args.out, args.overwrite, None)
  progress = Progress(video.num_frames, 'segmenting')
  began, done = time.perf_counter(), 0
  names = []

  def frames():
    for name, image in video.frames():
      names.append(name)
      yield image

  try:
    for ids in tracker.segment(frames(), first_ids):
      write_indexed_png(os.path.join(args.out, f'{names[done]}.png'), ids)
      done += 1
      progress.update(done)
  except UserError as error:  # e.g. a frame that turns out corrupt mid-video
    progress.close()
    raise ExportCommandError(f'{one_line(error)}; stopped after {done} of {video.num_frames} frames, so {args.out} '
                             f'holds a partial result (marked by its file {INCOMPLETE})') from None
  progress.close()
  output_folder.finish(args.out)
  seconds = time.perf_counter() - began
  print(f'Segmented {done} frames, {len(objects)} objects (ids {", ".join(map(str, objects))}) with {args.run} in '
        f'{seconds:.1f}s ({done / seconds:.1f} frames/s, compilation included): {args.out}/ ({done} PNGs)', flush=True)


def prepare_output(out: str, overwrite: bool, own_files: frozenset[str] | None) -> bool:
  """Makes `out` a writable folder holding only the INCOMPLETE marker; True if it created `out`.

  `own_files`: the names this command writes there (None: the run mode's `*.png`); only they go with --overwrite.
  """
  is_own = own_files.__contains__ if own_files is not None else (lambda name: name.endswith('.png'))
  return output_folder.prepare_output(out, overwrite, is_own, ExportCommandError,
                               f'{PROGRAM} has not finished writing this folder; its files are partial.\n')


def _size(num_bytes: int) -> str:
  return f'{num_bytes / 1e6:.2f} MB' if num_bytes >= 1e5 else f'{num_bytes / 1e3:.1f} kB'


if __name__ == '__main__':
  main()
