"""Throughput of segmenting many videos B at a time (`eval.videos_per_batch`) against one video at a time.

  python benchmarks/batched_eval.py [--quick] [--model tiny|small|paper] [--videos 8] [--frames 40]
      [--batches 1,2,4] [--json PATH]

Generated videos (`vosjax.data.procedural_video`, different seeds, one frame size), made before timing so that only
the engine is measured: frame in, label map on the host out, every frame. B = 1 is `VideoSegmenter`, one video after
the other; B > 1 is `BatchedVideoSegmenter` (slots refilled as videos end). Each setting runs once to compile and is
then timed round robin, best of `--repeats`; the table gives frames per second and the pixels whose label differs
from B = 1's (float rounding: see `vosjax.inference.batched_engine`). On a CPU a batch mostly gives XLA's threads
bigger matrices, so it may be no faster; on a GPU it fills the device. --quick: the tiny network, 4 videos of 20
frames at 428x240.
"""

from __future__ import annotations

import argparse
import json
import time

from vosjax.cli.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from vosjax.data.procedural_video import textured_video  # noqa: E402
from vosjax.inference import VideoSegmenter  # noqa: E402
from vosjax.inference.batched_engine import BatchedVideoSegmenter  # noqa: E402
from vosjax.models import VOSNet, init_variables, paper_config, tiny_config  # noqa: E402
from vosjax.errors import UserError  # noqa: E402
from vosjax.cli.entry_point import run_entry_point  # noqa: E402

PROGRAM = 'batched_eval.py'


def _network(name: str):
  from vosjax.configs.davis2016_cpu import small_network
  return {'tiny': tiny_config, 'small': small_network, 'paper': paper_config}[name]()


_BATCHED: dict[int, BatchedVideoSegmenter] = {}


def _segment_all(segmenter: VideoSegmenter, videos: list[list], per_batch: int, size) -> dict[int, list]:
  """{video index: [labels per frame]} for every video, B at a time."""
  labels = {i: [] for i in range(len(videos))}
  if per_batch == 1:
    for i, frames in enumerate(videos):
      labels[i] = [ids for _, ids in segmenter.segment(iter(frames))]
    return labels
  batched = _BATCHED.setdefault(per_batch, BatchedVideoSegmenter(segmenter, per_batch))  # one compilation per B
  for output in batched.segment(((i, iter(frames)) for i, frames in enumerate(videos)), num_objects=1,
                                frame_size=size):
    if not output.finished:
      labels[output.key].append(output.ids)
  return labels


def run(args) -> None:
  batches = [int(b) for b in args.batches.split(',') if b.strip()]
  if not batches or min(batches) < 1:
    raise UserError(f'--batches {args.batches}: give positive integers, e.g. 1,2,4')
  if 1 not in batches:
    batches = [1] + batches  # the reference
  size = (args.height, args.width)
  videos = [list(textured_video(args.frames, *size, seed=seed)) for seed in range(args.videos)]
  model = VOSNet(_network(args.model))
  segmenter = VideoSegmenter(model, init_variables(model, seed=0))
  total = args.videos * args.frames
  for per_batch in batches:
    _segment_all(segmenter, videos[:per_batch], per_batch, size)  # compile (and warm up) this setting
  best = {b: float('inf') for b in batches}
  labels_of = {}
  for _ in range(args.repeats):  # round robin, best of the repeats: this machine's speed drifts by the minute
    for per_batch in batches:
      began = time.perf_counter()
      labels_of[per_batch] = _segment_all(segmenter, videos, per_batch, size)
      best[per_batch] = min(best[per_batch], time.perf_counter() - began)
  reference = labels_of[1]
  rows = []
  for per_batch in batches:
    labels = labels_of[per_batch]
    flipped = sum(int(np.sum(a != b)) for i in labels for a, b in zip(labels[i], reference[i]))
    rows.append({'videos_per_batch': per_batch, 'seconds': best[per_batch],
                 'frames_per_second': total / best[per_batch], 'pixels_differing_from_b1': flipped,
                 'pixels': total * size[0] * size[1]})
  device = f'{jax.devices()[0].device_kind} ({jax.default_backend()})'
  print(f'\n{args.videos} videos x {args.frames} frames at {size[1]}x{size[0]}, {args.model} network, {device}')
  print(f'{"B":>3} {"frames/s":>9} {"vs B=1":>7} {"labels differing":>17}')
  base = rows[0]['frames_per_second']
  for row in rows:
    share = row['pixels_differing_from_b1'] / row['pixels']
    print(f'{row["videos_per_batch"]:>3} {row["frames_per_second"]:>9.2f} {row["frames_per_second"] / base:>6.2f}x '
          f'{share:>16.5%}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'device': device, 'model': args.model, 'size': list(size), 'videos': args.videos,
                 'frames': args.frames, 'rows': rows}, f, indent=1)
    print(f'Wrote {args.json}')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--model', choices=('tiny', 'small', 'paper'), default='')
  parser.add_argument('--videos', type=int, default=0)
  parser.add_argument('--frames', type=int, default=0)
  parser.add_argument('--height', type=int, default=0)
  parser.add_argument('--width', type=int, default=0)
  parser.add_argument('--batches', default='1,2,4')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  args.model = args.model or ('tiny' if args.quick else 'small')
  args.videos = args.videos or (4 if args.quick else 8)
  args.frames = args.frames or (20 if args.quick else 40)
  args.height = args.height or (240 if args.quick else 480)
  args.width = args.width or (428 if args.quick else 854)
  run_entry_point(PROGRAM, run, args)


if __name__ == '__main__':
  main()
