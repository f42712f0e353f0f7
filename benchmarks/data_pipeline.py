"""Input pipeline throughput: training clips per second delivered by grain at the paper's clip setting.

  python benchmarks/data_pipeline.py [--quick] [--json PATH] [--davis_root DIR]

Clips are 10 frames at 384x384 (the paper's setting), decoded from 480p JPEGs and PNGs, augmented (one affine resample
per frame, colour jitter) in 0, 1 and 2 grain worker processes. Without --davis_root the frames come from a small
synthetic set generated at 480x854 (DAVIS 480p size) into the cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


from absl import flags  # noqa: E402

from vosjax.data import ClipConfig, TrainingSource, davis_videos, training_dataset  # noqa: E402
from vosjax.data.synthetic import SyntheticSpec, ensure_dataset  # noqa: E402


def measure(videos, workers: int, batches: int, batch_size: int, warmup: int) -> dict:
  config = ClipConfig(num_frames=10, crop_size=384, max_objects=3)
  dataset = training_dataset([TrainingSource('bench', tuple(videos))], config, batch_size, seed=0,
                             num_workers=workers)
  iterator = iter(dataset)
  for _ in range(warmup):  # worker start-up and the filling of the prefetch buffers are not counted
    next(iterator)
  began = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  seconds = time.perf_counter() - began
  clips = batches * batch_size
  return {'workers': workers, 'batch_size': batch_size, 'clips': clips, 'seconds': round(seconds, 3),
          'clips_per_s': round(clips / seconds, 2), 'ms_per_clip': round(1e3 * seconds / clips, 1)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='fewer batches (still every row)')
  parser.add_argument('--json', help='write the rows here')
  parser.add_argument('--davis_root', help='a DAVIS 2017 folder to read instead of the synthetic set')
  args = parser.parse_args()
  flags.FLAGS.mark_as_parsed()
  if args.davis_root:
    videos = davis_videos(args.davis_root, 'train')
  else:
    root = ensure_dataset(spec=SyntheticSpec(height=480, width=854, train_videos=6, val_videos=1,
                                             train_frames=(40, 40), val_frames=(20, 20), texture_size=256))
    videos = davis_videos(root, 'train')
  batches = 6 if args.quick else 20
  warmup = 2 + 2 * 2  # the main process's prefetch buffer plus each worker's
  rows = [measure(videos, workers, batches, batch_size=4, warmup=warmup) for workers in (0, 1, 2)]
  print(f'Input pipeline, 10-frame 384x384 clips from 480p frames; {os.cpu_count()} CPU cores, '
        f'{platform.processor() or platform.machine()}')
  print(f'{"workers":>8} {"clips/s":>9} {"ms/clip":>9} {"clips":>7}')
  for row in rows:
    print(f'{row["workers"]:>8} {row["clips_per_s"]:>9.2f} {row["ms_per_clip"]:>9.1f} {row["clips"]:>7}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('data_pipeline.py', main)
