"""Train-step throughput and compiled memory next to the input pipeline's clips/s: which one limits training.

  python benchmarks/train_throughput.py [--quick] [--json PATH] [--davis_root DIR]

Rows: the synthetic default (tiny network, batch 4 x 5 frames x 96x96, 2 objects; its pipeline: the synthetic
set, 1 worker, as configs/synthetic.py) and the paper's full setting (ResNet-50/18, 10 frames x 384x384, 3 objects,
remat; its pipeline: 10-frame 384x384 clips from 480p frames, 2 workers). The step is the one train.py compiles,
timed as the median over steps after compilation on random clips; memory is XLA's analysis of the compiled step.
On a CPU one step of the paper's full batch takes many minutes, so its step is timed once at batch 1 without remat
(the faster program here; it fits in host memory) and the full batch of 4 with remat is compiled for its memory
only. With --davis_root (DAVIS 2016's training videos, as configs/davis2016_cpu.py reads them) it also times the
real-video recipe's step (frozen Lite0, batch 4 x 5 x 192^2) with 1 and 2 objects per clip, and its input, one
worker alone, three ways: decoding the JPEG and PNG of every frame of every clip (`clip.cache_short_side=0`),
decoding each frame once and keeping it at a 432-pixel short side (the recipe), and the same with objects pasted
from other videos (`clip.paste_probability`); a worker's share of a core at the step's pace is then
step clips/s / pipeline clips/s. `--encoder_blocks 1,3` adds the two-object step with the frame encoder's last 1 and
3 blocks trained (`optim.frame_encoder_train_blocks`). --quick times fewer synthetic steps and the paper's network
on 3-frame 192x192 clips (a reduced row, labelled so), and reads fewer pipeline batches.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time


from vosjax.cli.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()  # before JAX starts its backend

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from vosjax.configs import synthetic  # noqa: E402
from vosjax.data import ClipConfig, TrainingSource, davis_videos, training_dataset  # noqa: E402
from vosjax.data.synthetic import SyntheticSpec, ensure_dataset  # noqa: E402
from vosjax.models import ModelConfig, VOSNet, init_variables, paper_config  # noqa: E402
from vosjax.training.datasets import clip_config  # noqa: E402
from vosjax.training.train_state import create_train_state, make_optimizer  # noqa: E402
from vosjax.training.train_step import make_train_step  # noqa: E402


def compiled_step(model_config, batch: int, frames: int, size: int, objects: int, remat: bool,
                  frozen_encoder: bool = False, encoder_blocks: int = -1):
  """(the compiled train step, its state, a random batch, compile seconds, compiled memory in bytes, GFLOP/step).

  `encoder_blocks` >= 0 trains only the frame encoder's last that many blocks (at 0.1 x the rate; the rest frozen).
  """
  model = VOSNet(model_config)
  if encoder_blocks >= 0:
    optimizer = make_optimizer(1e-5, frame_encoder_lr_scale=0.1, frame_encoder_train_blocks=encoder_blocks)
  else:
    optimizer = make_optimizer(1e-5, frame_encoder_lr_scale=0.0 if frozen_encoder else 1.0)
  state = create_train_state(init_variables(model), optimizer)
  rng = np.random.default_rng(0)
  labels = np.zeros((batch, frames, size, size), np.uint8)
  for k in range(objects):
    labels[:, :, size // 8 * (k + 1):size // 8 * (k + 2), size // 4:size // 2] = k + 1
  data = {'frames': rng.integers(0, 255, (batch, frames, size, size, 3), dtype=np.uint8), 'labels': labels,
          'object_valid': np.ones((batch, objects), bool)}
  began = time.perf_counter()
  train_step = make_train_step(model, optimizer, remat=remat,
                               freeze_frame_encoder=frozen_encoder and encoder_blocks < 0,
                               frame_encoder_train_blocks=encoder_blocks)
  step = jax.jit(train_step, donate_argnums=0).lower(state, data).compile()
  compile_s = time.perf_counter() - began
  print(f'.. compiled batch {batch} x {frames} x {size}^2 in {compile_s:.0f} s', file=sys.stderr, flush=True)
  memory = step.memory_analysis()
  total = (memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
           - memory.alias_size_in_bytes)
  gflop = (step.cost_analysis() or {}).get('flops', 0.0) / 1e9  # XLA's count for the whole step (fwd + bwd + Adam)
  return step, state, data, compile_s, total, gflop


def time_step(model_config, batch: int, frames: int, size: int, objects: int, remat: bool, steps: int,
              warmup: bool = True, frozen_encoder: bool = False, encoder_blocks: int = -1) -> dict:
  """The median step time over `steps` steps (after one warm-up step) and the compiled memory."""
  step, state, data, compile_s, total, gflop = compiled_step(model_config, batch, frames, size, objects, remat,
                                                             frozen_encoder, encoder_blocks)
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


def pipeline_rate(videos, clips: ClipConfig, workers: int, batches: int, batch_size: int = 4,
                  warmup_batches: int = 0) -> float:
  iterator = iter(training_dataset([TrainingSource('bench', tuple(videos))], clips, batch_size, seed=0,
                                   num_workers=workers))
  for _ in range(max(warmup_batches, 2 + 2 * workers)):  # start-up and prefetch buffers (and a warm frame cache)
    next(iterator)
  began = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return round(batches * batch_size / (time.perf_counter() - began), 2)


def recipe_rows(davis_root: str, steps: int, batches: int, encoder_blocks: tuple[int, ...] = ()) -> list[dict]:
  """The real-video recipe's step with 1 and 2 objects (and with 2 objects and the frame encoder's last
  `encoder_blocks` blocks trained), and its input three ways (see the module docstring)."""
  from vosjax.configs import davis2016_cpu
  from vosjax.training.datasets import training_sources
  config = davis2016_cpu.get_config()
  config.data.davis_root = davis_root
  network = ModelConfig.from_dict(config.model.to_dict())
  clips = clip_config(config)
  videos = training_sources(config.data)[0].videos
  inputs = {'every clip decodes': dict(cache_short_side=0, paste_probability=0.0),
            'decoded once (432)': dict(cache_short_side=432, paste_probability=0.0),
            'decoded once + paste': dict(cache_short_side=432, paste_probability=0.6)}
  rates = {}
  for name, fields in inputs.items():
    # Two passes over the videos' frames first, so that the cache holds (nearly) every frame, as in a long run.
    rates[name] = pipeline_rate(videos, dataclasses.replace(clips, **fields), 1, batches,
                                warmup_batches=0 if not fields['cache_short_side'] else 2 * 1622 // 20)
    print(f'.. input {name}: {rates[name]} clips/s', file=sys.stderr, flush=True)
  rows = []
  for objects, blocks in [(1, -1), (2, -1)] + [(2, n) for n in encoder_blocks]:
    row = time_step(network, config.train.batch_size, clips.num_frames, clips.crop_size, objects, False, steps,
                    frozen_encoder=True, encoder_blocks=blocks)
    row.update(setting=f'real-video recipe, K={objects}', pipeline_workers=1, input_rates=rates, encoder_blocks=blocks,
               pipeline_clips_per_s=rates['decoded once + paste' if objects > 1 else 'decoded once (432)'])
    rows.append(row)
    print(f'.. {row}', file=sys.stderr, flush=True)
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--json')
  parser.add_argument('--davis_root', help='add the real-video recipe rows (DAVIS 2016 training videos)')
  parser.add_argument('--recipe_only', action='store_true', help='only the real-video recipe rows')
  parser.add_argument('--encoder_blocks', default='',
                      help='with --davis_root: also time the recipe with the frame encoder\'s last N blocks trained, '
                           'for each N of this comma-separated list')
  args = parser.parse_args()
  flags.FLAGS.mark_as_parsed()
  rows = []
  if args.davis_root:
    blocks = tuple(int(n) for n in args.encoder_blocks.split(',') if n)
    rows += recipe_rows(args.davis_root, 5 if args.quick else 20, 10 if args.quick else 40, blocks)
  if args.recipe_only:
    _print_recipe(rows)
    return
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
  _print_recipe([r for r in rows if 'input_rates' in r])
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


def _print_recipe(rows: list[dict]) -> None:
  if not rows:
    return
  print(f'\nReal-video recipe ({os.cpu_count()} cores, {platform.processor() or platform.machine()}): the step, '
        f'and one input worker alone')
  print('| objects per clip | frame encoder | step s (batch 4) | step clips/s | GFLOP/step |\n|---|---|---|---|---|')
  for r in rows:
    encoder = 'frozen' if r['encoder_blocks'] < 0 else f'last {r["encoder_blocks"]} blocks trained'
    print(f'| {r["objects"]} | {encoder} | {r["step_s"]:.3f} | {r["step_clips_per_s"]:.2f} '
          f'| {r["gflop_per_step"]:.0f} |')
  print('| input | clips/s (1 worker) | worker core share at the K=1 step\'s pace |\n|---|---|---|')
  for name, rate in rows[0]['input_rates'].items():
    print(f'| {name} | {rate:.2f} | {rows[0]["step_clips_per_s"] / rate:.2f} |')


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('train_throughput.py', main)
