"""A long video: GAM's fixed-size state against the memory bank, time per frame and resident memory as it goes.

  python benchmarks/long_video.py [--quick] [--frames 10000] [--model small|tiny|paper] [--out runs/long_video]

One generated 480p video (`vosjax.data.procedural_video`: a panning textured background, a textured object moving
and changing size, so no two frames are alike), one network with the same weights for both matchers (GAM stores
every frame in its fixed-size context; the bank stores every `memory_every`-th frame, STM's 5, and grows). Each
matcher runs in its own process, segmenting the video with the engine (`VideoSegmenter`, every frame's labels
fetched to the host) and recording every 100 frames: the median time per frame over those 100 frames (generating
the frames excluded; the memory bank's recompilations when its capacity grows show in the mean, not the median), and
the process's resident memory then (on a CPU the state lives in host memory, so this is the memory the video costs).
A run stops when the video ends, when resident memory passes `--memory_limit_gib` (default 85% of this machine's
memory: past it the machine would swap or the kernel kill the process), when the process is killed (out of memory),
or, for the memory bank only, at `--time_limit_minutes` (its time per frame grows with the video: on a CPU it would
take days to reach frame 10,000; GAM always runs to the end).

Writes <out>/long_video.json (every row), <out>/long_video.png (both curves; matplotlib, `pip install -e .[bench]`)
and prints a table. --quick: the tiny network, 2,000 frames at 428x240, at most 2 minutes per matcher (the memory
bank does not reach the end in that time on 2 cores: its row says where it stopped); under 5 minutes here.
`--matchers global` reruns one matcher and keeps the other's rows from the last run in the same --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from vosjax.errors import UserError  # noqa: E402
from vosjax.cli.entry_point import run_entry_point  # noqa: E402

PROGRAM = 'long_video.py'
EVERY = 100
MATCHERS = ('global', 'memory_bank')


def _resident_bytes() -> int:
  with open('/proc/self/statm') as f:
    return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _machine_memory_bytes() -> int:
  return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')


def _network(model: str, matcher: str):
  from vosjax.models import paper_config, tiny_config
  from vosjax.configs.davis2016_cpu import small_network
  config = {'tiny': tiny_config, 'small': small_network, 'paper': paper_config}[model]()
  # Buckets of 50 stored frames (250 video frames): the bank recompiles 40 times in 10,000 frames, not 250.
  return dataclasses.replace(config, matcher=matcher, memory_bucket=50)


def worker(args) -> None:
  """One matcher over the video; appends one JSON line per 100 frames to args.rows (survives an out-of-memory kill)."""
  from vosjax.cli.xla_defaults import apply_xla_defaults
  apply_xla_defaults()
  import numpy as np
  from vosjax.data.procedural_video import textured_video
  from vosjax.inference import VideoSegmenter
  from vosjax.models import VOSNet, init_variables

  config = _network(args.model, args.worker)
  # The same weights for both matchers: the parameters do not depend on the matcher (initialised from one seed).
  variables = init_variables(VOSNet(dataclasses.replace(config, matcher='global')), seed=0)
  segmenter = VideoSegmenter(VOSNet(config), variables)
  generation = [0.0]

  def frames():
    video = textured_video(args.frames, args.height, args.width, seed=0)
    while True:
      began = time.perf_counter()
      frame = next(video, None)
      generation[0] += time.perf_counter() - began
      if frame is None:
        return
      yield frame

  limit = args.memory_limit_gib * 2**30
  deadline = None
  if args.time_limit_minutes and args.worker == 'memory_bank':
    deadline = time.time() + 60 * args.time_limit_minutes
  window, last, status = [], time.perf_counter(), 'video ended'
  with open(args.rows, 'a') as out:
    def record(row):
      out.write(json.dumps(row) + '\n')
      out.flush()

    for frame, _ in segmenter.segment(frames()):
      now = time.perf_counter()
      window.append(now - last - generation[0])
      last, generation[0] = now, 0.0
      count = frame.index + 1
      if count % EVERY == 0 or count == args.frames:
        resident = _resident_bytes()
        record({'matcher': args.worker, 'frame': count, 'median_ms': 1000 * float(np.median(window)),
                'mean_ms': 1000 * float(np.mean(window)), 'resident_gib': resident / 2**30})
        window = []
        if resident > limit:
          status = f'stopped: resident memory {resident / 2**30:.1f} GiB passed --memory_limit_gib'
          break
        if deadline and time.time() > deadline:
          status = f'stopped: --time_limit_minutes {args.time_limit_minutes} reached'
          break
        last = time.perf_counter()  # the bookkeeping above is not the tracker's time
    record({'matcher': args.worker, 'status': status})


def _run_matcher(matcher: str, args, rows_path: str) -> str:
  command = [sys.executable, os.path.abspath(__file__), '--worker', matcher, '--rows', rows_path,
             '--frames', str(args.frames), '--model', args.model, '--height', str(args.height), '--width',
             str(args.width), '--memory_limit_gib', str(args.memory_limit_gib), '--time_limit_minutes',
             str(args.time_limit_minutes)]
  began = time.time()
  result = subprocess.run(command, stderr=subprocess.PIPE, text=True)
  print(f'{matcher}: {time.time() - began:.0f} s', flush=True)
  if result.returncode < 0:
    return f'killed by signal {-result.returncode} (out of memory?)'
  if result.returncode != 0:
    raise UserError(f'the {matcher} run failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}')
  return ''


def _plot(rows: list[dict], statuses: dict, path: str, title: str) -> None:
  try:
    import matplotlib
  except ImportError:
    print(f'matplotlib is not installed (pip install -e ".[bench]"): no plot written to {path}', flush=True)
    return
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
  names = {'global': 'GAM (fixed-size state)', 'memory_bank': 'memory bank (every 5th frame)'}
  for matcher in MATCHERS:
    mine = [r for r in rows if r['matcher'] == matcher and 'frame' in r]
    if not mine:
      continue
    label = f'{names[matcher]}: {statuses[matcher]}'
    time_axis.plot([r['frame'] for r in mine], [r['median_ms'] for r in mine], label=label)
    memory_axis.plot([r['frame'] for r in mine], [r['resident_gib'] for r in mine], label=label)
  time_axis.set(xlabel='frame', ylabel='ms per frame (median of 100)', title='time per frame')
  memory_axis.set(xlabel='frame', ylabel='resident memory (GiB)', title='process memory')
  for axis in (time_axis, memory_axis):
    axis.grid(alpha=0.3)
  handles, labels = time_axis.get_legend_handles_labels()
  figure.legend(handles, labels, loc='lower center', ncol=2, fontsize=9)
  figure.suptitle(title, fontsize=10)
  figure.tight_layout(rect=(0, 0.08, 1, 1))
  figure.savefig(path, dpi=110)
  plt.close(figure)


def _table(rows: list[dict], frames: int) -> str:
  step = max(EVERY, (frames // 10) // EVERY * EVERY)
  by = {(r['matcher'], r['frame']): r for r in rows if 'frame' in r}
  wanted = sorted({f for _, f in by if f % step == 0 or f == EVERY})
  lines = [f'{"frame":>6} | {"GAM ms":>8} {"GAM GiB":>8} | {"bank ms":>8} {"bank GiB":>9}']
  for frame in wanted:
    cells = []
    for matcher in MATCHERS:
      row = by.get((matcher, frame))
      cells.append(f'{row["median_ms"]:>8.1f} {row["resident_gib"]:>8.2f}' if row else f'{"-":>8} {"-":>8}')
    lines.append(f'{frame:>6} | {cells[0]} | {cells[1]}')
  return '\n'.join(lines)


def run(args) -> None:
  if args.worker:
    worker(args)
    return
  if args.frames < EVERY:
    raise UserError(f'--frames {args.frames}: at least {EVERY}')
  os.makedirs(args.out, exist_ok=True)
  rows_path = os.path.join(args.out, 'rows.jsonl')
  chosen = [m.strip() for m in args.matchers.split(',') if m.strip()]
  if not chosen or any(m not in MATCHERS for m in chosen):
    raise UserError(f'--matchers {args.matchers}: choose among {", ".join(MATCHERS)}')
  kept = []
  if os.path.exists(rows_path):  # the other matchers' rows of the last run stay
    with open(rows_path) as f:
      kept = [line for line in f if json.loads(line)['matcher'] not in chosen]
  with open(rows_path, 'w') as f:
    f.writelines(kept)
  killed = {m: _run_matcher(m, args, rows_path) for m in chosen}
  with open(rows_path) as f:
    rows = [json.loads(line) for line in f]
  statuses = {}
  for matcher in MATCHERS:
    ended = [r['status'] for r in rows if r['matcher'] == matcher and 'status' in r]
    statuses[matcher] = killed.get(matcher) or (ended[-1] if ended else 'not run')
  rows = [r for r in rows if 'frame' in r]
  last = {m: max((r['frame'] for r in rows if r['matcher'] == m), default=0) for m in MATCHERS}
  title = (f'{args.frames} generated frames at {args.width}x{args.height}, {args.model} network, '
           f'{_cpu_name()}')
  result = {'frames': args.frames, 'size': [args.height, args.width], 'model': args.model, 'every': EVERY,
            'machine': _cpu_name(), 'statuses': statuses, 'last_frame': last, 'rows': rows}
  with open(os.path.join(args.out, 'long_video.json'), 'w') as f:
    json.dump(result, f, indent=1)
  plot_path = os.path.join(args.out, 'long_video.png')
  _plot(rows, statuses, plot_path, title)
  print(f'\n{title}\n{_table(rows, args.frames)}')
  for matcher in MATCHERS:
    print(f'{matcher}: {statuses[matcher]} (last row: frame {last[matcher]})')
  print(f'Wrote {os.path.join(args.out, "long_video.json")} and {plot_path}')


def _cpu_name() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
    return f'{names[0]} x{len(names)}' if names else 'unknown CPU'
  except OSError:
    return 'unknown CPU'


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--quick', action='store_true', help='the tiny network, 2,000 frames')
  parser.add_argument('--frames', type=int, default=0, help='video length (default 10,000; --quick 2,000)')
  parser.add_argument('--model', choices=('tiny', 'small', 'paper'), default='',
                      help='network (default small: davis2016_cpu.small_network, the earlier recipe; --quick tiny)')
  parser.add_argument('--height', type=int, default=0, help='default 480 (--quick 240)')
  parser.add_argument('--width', type=int, default=0, help='default 854 (--quick 428)')
  parser.add_argument('--memory_limit_gib', type=float, default=0.85 * _machine_memory_bytes() / 2**30)
  parser.add_argument('--time_limit_minutes', type=float, default=-1.0,
                      help='the memory bank\'s (default none; --quick 2; 0 = none)')
  parser.add_argument('--matchers', default=','.join(MATCHERS), help='which to run (default both)')
  parser.add_argument('--out', default='')
  parser.add_argument('--worker', choices=MATCHERS, default='', help=argparse.SUPPRESS)
  parser.add_argument('--rows', default='', help=argparse.SUPPRESS)
  args = parser.parse_args()
  args.frames = args.frames or (2000 if args.quick else 10_000)
  args.model = args.model or ('tiny' if args.quick else 'small')
  args.height = args.height or (240 if args.quick else 480)
  args.width = args.width or (428 if args.quick else 854)
  if args.time_limit_minutes < 0:
    args.time_limit_minutes = 2.0 if args.quick else 0.0
  args.out = args.out or os.path.join(REPO, 'runs', 'long_video_quick' if args.quick else 'long_video')
  run_entry_point(PROGRAM, run, args)


if __name__ == '__main__':
  main()
