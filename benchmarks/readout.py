"""Read-out choices measured on a trained network, without retraining: top-k, a local window, memory frames, internal
resolution.

  python benchmarks/readout.py --davis_root DAVIS2016_TRAIN [--checkpoint NAME_OR_WORKDIR] [--only a,b]
                               [--json PATH] [--out DIR]

The memory bank's read-out has no parameters, so how many frames it keeps, which ones, and how many matches each
query position reads (its best k, or those in a window around it) can change at evaluation time. Each variant
segments the held-out videos of `configs/davis2016_cpu.py` (`data.holdout`) with the same weights and one change to
the network's config or the internal short side, and is scored by the official DAVIS metric at 480p, as `evaluate.py --split holdout` scores.
Frames/s is the engine's, without file I/O, in this run. Finished variants are kept in `--json` and skipped when
the script runs again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile


from vosjax.configs import davis2016_cpu  # noqa: E402
from vosjax.cli.entry_point import run_entry_point  # noqa: E402
from vosjax.evaluation.eval_datasets import split_videos  # noqa: E402
from vosjax.evaluation.evaluate_lib import score_and_report  # noqa: E402
from vosjax.evaluation.split_segmentation import prepare_folder, segment_split  # noqa: E402
from vosjax.inference.engine import VideoSegmenter  # noqa: E402
from vosjax.inference.model_source import load_model  # noqa: E402
from vosjax.models import VOSNet  # noqa: E402

# name -> (what changes, ModelConfig overrides, internal short side or None for the model's own)
VARIANTS = {
    'base': ('as trained: first + 2 recent frames, softmax over all positions', {}, None),
    'top20': ('top-20 read-out', {'memory_top_k': 20}, None),
    'top50': ('top-50 read-out', {'memory_top_k': 50}, None),
    'recent4': ('first + 4 recent frames', {'memory_recent': 4}, None),
    'long2x10': ('first + 2 recent + 2 long-term frames every 10', {'memory_long': 2, 'memory_long_every': 10}, None),
    'long4x5': ('first + 2 recent + 4 long-term frames every 5', {'memory_long': 4, 'memory_long_every': 5}, None),
    'local2': ('the stored frames but the first read in a window of 2 cells around each query position',
               {'memory_local_radius': 2}, None),
    'local4': ('the stored frames but the first read in a window of 4 cells', {'memory_local_radius': 4}, None),
    'local8': ('the stored frames but the first read in a window of 8 cells', {'memory_local_radius': 8}, None),
    'local4_long4x5': ('a window of 4 cells, first + 2 recent + 4 long-term frames every 5',
                       {'memory_local_radius': 4, 'memory_long': 4, 'memory_long_every': 5}, None),
    'side480': ('internal short side 480', {}, 480),
    'side420': ('internal short side 420', {}, 420),
    'side400': ('internal short side 400', {}, 400),
    'long4x5_side420': ('first + 2 recent + 4 long-term frames every 5, internal short side 420',
                        {'memory_long': 4, 'memory_long_every': 5}, 420),
    'long4x5_side480': ('first + 2 recent + 4 long-term frames every 5, internal short side 480',
                        {'memory_long': 4, 'memory_long_every': 5}, 480),
    'top20_long4x5': ('top-20 read-out, first + 2 recent + 4 long-term every 5',
                      {'memory_top_k': 20, 'memory_long': 4, 'memory_long_every': 5}, None),
    # A network trained with GAM beside the first frame (gam_first_frame) reading more frames beside GAM instead.
    'gam_recent2': ('GAM beside the first + 2 recent frames (gam_memory)',
                    {'gam_first_frame': False, 'gam_memory': True, 'memory_recent': 2, 'memory_long': 0}, None),
    'gam_long4x5': ('GAM beside the first + 2 recent + 4 long-term frames every 5 (gam_memory)',
                    {'gam_first_frame': False, 'gam_memory': True, 'memory_recent': 2, 'memory_long': 4,
                     'memory_long_every': 5}, None),
}


def _load(checkpoint: str):
  """(model, variables, its internal short side) of a shipped model's name (its manifest's) or a workdir (its
  config's `eval.short_side`)."""
  loaded = load_model(checkpoint)
  return loaded.model, loaded.variables, loaded.short_side


def _run_variant(config, model, variables, short_side: int, out_dir: str) -> dict:
  videos = split_videos(config, 'davis', 'holdout')
  prepare_folder(out_dir, {'readout': out_dir})
  stats = segment_split(VideoSegmenter(model, variables, short_side=short_side), videos, out_dir)
  summary = score_and_report(out_dir, videos, 'holdout')
  row = dict(summary.global_results)
  return {'J&F': row['J&F-Mean'], 'J': row['J-Mean'], 'F': row['F-Mean'], 'fps': stats.fps_without_io,
          'short_side': short_side}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--davis_root', required=True, help='DAVIS 2016 training videos in the DAVIS 2017 layout')
  parser.add_argument('--checkpoint', default='davis2016-lite0', help='a shipped model name or a workdir')
  parser.add_argument('--only', default='', help='comma-separated variant names (default: all)')
  parser.add_argument('--json', default='readout.json', help='results, kept between runs')
  parser.add_argument('--out', default='', help='where masks are written (default: a temporary folder)')
  args = parser.parse_args()
  config = davis2016_cpu.get_config()
  config.data.davis_root = args.davis_root
  config.eval.dataset = 'davis'
  model, variables, trained_side = _load(args.checkpoint)
  results = {}
  if os.path.isfile(args.json):
    with open(args.json) as f:
      results = json.load(f)
  names = [n for n in args.only.split(',') if n] or list(VARIANTS)
  unknown = [n for n in names if n not in VARIANTS]
  if unknown:
    parser.error(f'unknown variants {unknown}; choose from {list(VARIANTS)}')
  out_root = args.out or tempfile.mkdtemp(prefix='readout-')
  for name in names:
    if name in results:
      continue
    _, overrides, side = VARIANTS[name]
    variant = VOSNet(dataclasses.replace(model.config, **overrides))
    print(f'{name}: {VARIANTS[name][0]}', flush=True)
    results[name] = _run_variant(config, variant, variables, side or trained_side, os.path.join(out_root, name))
    with open(args.json, 'w') as f:
      json.dump(results, f, indent=1)
  print(f'\n{args.checkpoint} on the held-out videos (J&F at 480p; frames/s without file I/O, this run)')
  print(f'| variant | change | J&F | J | F | frames/s |\n|---|---|---|---|---|---|')
  for name in names:
    r = results[name]
    print(f'| {name} | {VARIANTS[name][0]} | {r["J&F"]:.3f} | {r["J"]:.3f} | {r["F"]:.3f} | {r["fps"]:.1f} |')


if __name__ == '__main__':
  run_entry_point('readout.py', main)
