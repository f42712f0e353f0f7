"""Train-step throughput and compiled memory next to the input pipeline's clips/s: which one limits training.

  python benchmarks/train_throughput.py [--quick] [--json PATH]

Rows: the synthetic default (tiny network, batch 4 x 5 frames x 96x96, 2 objects; its pipeline: the synthetic
set, 1 worker, as configs/synthetic.py) and the paper's full setting (ResNet-50/18, 10 frames x 384x384, 3 objects,
remat; its pipeline: 10-frame 384x384 clips from 480p frames, 2 workers). The step is the one train.py compiles,
timed as the median over steps after compilation on random clips; memory is XLA's analysis of the compiled step.
On a CPU one step of the paper's full batch takes many minutes, so its step is timed once at batch 1 without remat
(the faster program here; it fits in host memory) and the full batch of 4 with remat is compiled for its memory
only. --quick times fewer synthetic steps and the paper's network on 3-frame 192x192 clips (a reduced row, labelled
so), and reads fewer pipeline batches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vosjax.cli.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()  # before JAX starts its backend

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from configs import synthetic  # noqa: E402
from vosjax.data import ClipConfig, TrainingSource, davis_videos, training_dataset  # noqa: E402
from vosjax.data.synthetic import SyntheticSpec, ensure_dataset  # noqa: E402
from vosjax.models import ModelConfig, VOSNet, init_variables, paper_config  # noqa: E402
from vosjax.training.datasets import clip_config  # noqa: E402
from vosjax.training.train_state import create_train_state, make_optimizer  # noqa: E402
from vosjax.training.train_step import make_train_step  # noqa: E402


def compiled_step(model_config, batch: int, frames: int, size: int, objects: int, remat: bool):
  """(the compiled train step, its state, a random batch, compile seconds, compiled memory in bytes, GFLOP/step)."""
  model = VOSNet(model_config)
  optimizer = make_optimizer(1e-5)
  state = create_train_state(init_variables(model), optimizer)
  rng = np.random.default_rng(0)
  labels = np.zeros((batch, frames, size, size), np.uint8)
  for k in range(objects):
    labels[:, :, size // 8 * (k + 1):size // 8 * (k + 2), size // 4:size // 2] = k + 1
  data = {'frames': rng.integers(0, 255, (batch, frames, size, size, 3), dtype=np.uint8), 'labels': labels,
          'object_valid': np.ones((batch, objects), bool)}
  began = time.perf_counter()
  step = jax.jit(make_train_step(model, optimizer, remat=remat), donate_argnums=0).lower(state, data).compile()
  compile_s = time.perf_counter() - began
  print(f'.. compiled batch {batch} x {frames} x {size}^2 in {compile_s:.0f} s', file=sys.stderr, flush=True)
  memory = step.memory_analysis()
  total = (memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
           - memory.alias_size_in_bytes)
  gflop = (step.cost_analysis() or {}).get('flops', 0.0) / 1e9  # XLA's count for the whole step (fwd + bwd + Adam)
  return step, state, data, compile_s, total, gflop


def time_step(model_config, batch: int, frames: int, size: int, objects: int, remat: bool, steps: int,
              warmup: bool = True) -> dict:
  """The median step time over `steps` steps (after one warm-up step) and the compiled memory."""
  step, state, data, compile_s, total, gflop = compiled_step(model_config, batch, frames, size, objects, remat)
  times = []
  for _ in range(steps + int(warmup)):
    began = time.perf_counter()
    state, metrics = step(state, data)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - began)
    print(f'.. step {len(times)}: {times[-1]:.2f} s', file=sys.stderr, flush=True)
  seconds = float(np.median(times[int(warmup):]))
  return {'batch': batch, 'frames': frames, 'size': size, 'objects': objects, 'remat': remat,
          'step_s': round(seconds, 3), 'step_clips_per_s': round(batch / seconds, 3),
          'compiled_gib': round(total / 2**30, 3), 'compile_s': round(compile_s, 1), 'gflop_per_step': round(gflop, 1),
          'gflop_per_s': round(gflop / seconds, 1)}


def pipeline_rate(videos, clips: ClipConfig, workers: int, batches: int, batch_size: int = 4) -> float:
  iterator = iter(training_dataset([TrainingSource('bench', tuple(videos))], clips, batch_size, seed=0,
                                   num_workers=workers))
  for _ in range(2 + 2 * workers):  # start-up and prefetch buffers
    next(iterator)
  began = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return round(batches * batch_size / (time.perf_counter() - began), 2)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--json')
  args = parser.parse_args()
  flags.FLAGS.mark_as_parsed()
  rows = []
  config = synthetic.get_config()
  tiny = ModelConfig.from_dict(config.model.to_dict())
  clips = clip_config(config)
  row = time_step(tiny, config.train.batch_size, clips.num_frames, clips.crop_size, clips.max_objects,
                  config.train.remat, 5 if args.quick else 20)
  videos = davis_videos(ensure_dataset(), 'train', source='synthetic')
  row.update(setting='synthetic (tiny)', pipeline_workers=config.data.num_workers,
             pipeline_clips_per_s=pipeline_rate(videos, clips, config.data.num_workers, 10 if args.quick else 40))
  rows.append(row)
  print(f'.. {row}', file=sys.stderr, flush=True)
  paper_videos = davis_videos(ensure_dataset(spec=SyntheticSpec(height=480, width=854, train_videos=6, val_videos=1,
                                                                train_frames=(40, 40), val_frames=(20, 20),
                                                                texture_size=256)), 'train')
  paper_clips = ClipConfig(num_frames=10, crop_size=384, max_objects=3)
  # Timed at batch 1 (clips/s scale with the batch on a saturated CPU), once, after compilation.
  frames, size = (3, 192) if args.quick else (10, 384)
  row = time_step(paper_config(), 1, frames, size, 3, False, 1, warmup=False)
  row['compiled_gib_batch4'] = round(compiled_step(paper_config(), 4, 10, 384, 3, True)[4] / 2**30, 3)
  row.update(setting='paper (ResNet-50/18)' + (' reduced' if args.quick else ''), pipeline_workers=2,
             pipeline_clips_per_s=pipeline_rate(paper_videos, paper_clips, 2, 4 if args.quick else 12))
  rows.append(row)
  print(f'Train step vs input pipeline; {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, '
        f'backend {jax.default_backend()}')
  print(f'{"setting":<22} {"B x T x S":>11} {"remat":>5} {"step s":>7} {"step clips/s":>12} {"compiled GiB":>12} '
        f'{"GFLOP/s":>8} {"pipeline clips/s":>16} {"limit":>9}  (paper: compiled at batch 4: '
        f'{rows[-1]["compiled_gib_batch4"]:.2f} GiB with remat)')
  for r in rows:
    limit = 'pipeline' if r['pipeline_clips_per_s'] < r['step_clips_per_s'] else 'step'
    r['limited_by'] = limit
    print(f'{r["setting"]:<22} {r["batch"]}x{r["frames"]}x{r["size"]:<5} {str(r["remat"]):>5} {r["step_s"]:>7.2f} '
          f'{r["step_clips_per_s"]:>12.2f} {r["compiled_gib"]:>12.2f} {r["gflop_per_s"]:>8.1f} '
          f'{r["pipeline_clips_per_s"]:>16.2f} '
          f'{limit:>9}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('train_throughput.py', main)
