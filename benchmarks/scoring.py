"""Time to score a DAVIS-2017-val-sized results folder with the official metric (no model).

  python benchmarks/scoring.py [--quick] [--json PATH] [--workers 2]

Writes a folder shaped like DAVIS 2017 val (30 sequences, 1999 frames at 480x854, 61 objects; --quick: 8
sequences) with moving ellipses as ground truth and shifted, dilated copies as predictions, then times
`evaluate.py --results_path ... --davis_root ...`'s scorer on it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from vosjax.data.image_io import write_indexed_png, write_jpeg  # noqa: E402
from vosjax.data.davis import davis_videos  # noqa: E402
from vosjax.evaluation.scoring import score_results  # noqa: E402

# DAVIS 2017 val: 30 sequences, 1999 frames, 61 objects; these lengths and counts add up to the same totals.
LENGTHS = [67] * 19 + [66] * 11
OBJECTS = [2] * 29 + [3]


def _ids(height, width, t, objects, offset=0.0):
  yy, xx = np.mgrid[:height, :width]
  ids = np.zeros((height, width), np.uint8)
  for k in range(objects):
    cy = height * (0.3 + 0.4 * np.sin(0.05 * t + k)) + offset
    cx = width * (0.2 + 0.6 * (k + 1) / (objects + 1)) + 3 * t % 40 + offset
    ids[((yy - cy) / (60 + 10 * k)) ** 2 + ((xx - cx) / (90 - 10 * k)) ** 2 < 1] = k + 1
  return ids


def write_folders(root: str, sequences: int, height=480, width=854) -> tuple[str, str]:
  davis, results = os.path.join(root, 'DAVIS'), os.path.join(root, 'results')
  names = []
  frame = np.full((height, width, 3), 90, np.uint8)
  for s in range(sequences):
    name = f'seq{s:02d}'
    names.append(name)
    for t in range(LENGTHS[s]):
      write_jpeg(os.path.join(davis, 'JPEGImages', '480p', name, f'{t:05d}.jpg'), frame)
      write_indexed_png(os.path.join(davis, 'Annotations', '480p', name, f'{t:05d}.png'),
                        _ids(height, width, t, OBJECTS[s]))
      write_indexed_png(os.path.join(results, name, f'{t:05d}.png'), _ids(height, width, t, OBJECTS[s], 6.0))
  os.makedirs(os.path.join(davis, 'ImageSets', '2017'))
  with open(os.path.join(davis, 'ImageSets', '2017', 'val.txt'), 'w') as f:
    f.write('\n'.join(names) + '\n')
  return davis, results


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='8 sequences instead of 30')
  parser.add_argument('--workers', type=int, default=2)
  parser.add_argument('--json')
  args = parser.parse_args()
  sequences = 8 if args.quick else 30
  with tempfile.TemporaryDirectory() as root:
    began = time.perf_counter()
    davis, results = write_folders(root, sequences)
    print(f'wrote {sequences} sequences in {time.perf_counter() - began:.0f} s', flush=True)
    videos = davis_videos(davis, 'val')
    rows = []
    for workers in sorted({1, args.workers}):
      began = time.perf_counter()
      summary = score_results(results, videos, workers=workers)
      seconds = time.perf_counter() - began
      rows.append({'sequences': sequences, 'frames': sum(v.num_frames for v in videos),
                   'objects': len(summary.per_object), 'workers': workers, 'seconds': round(seconds, 1),
                   'J&F': round(summary.global_results['J&F-Mean'], 3), 'cpus': os.cpu_count()})
  print(f'{"sequences":>9} {"frames":>7} {"objects":>7} {"workers":>7} {"seconds":>8}')
  for r in rows:
    print(f'{r["sequences"]:>9} {r["frames"]:>7} {r["objects"]:>7} {r["workers"]:>7} {r["seconds"]:>8.1f}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('scoring.py', main)
