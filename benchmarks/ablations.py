"""The paper's Tables 1-2 in miniature: the real-video recipe with one module changed at a time, on held-out videos.

  python benchmarks/ablations.py --davis_root DAVIS2016_TRAIN [--quick] [--json PATH] [--out DIR]
                                 [--only full,no_cam] [--steps N]

Every variant trains `configs/davis2016_cpu.py` from scratch with one override (the same command a user runs:
`train.py` then `evaluate.py --split holdout`, in subprocesses) and is scored on the config's held-out videos by
the official DAVIS metric; copy-first-frame and optical-flow propagation are scored on the same videos by the same
scorer. The full model runs with two seeds, so the table shows the noise level. `--quick` (one seed) trains each
variant for `QUICK_STEPS` steps and segments at an internal short side of `QUICK_SHORT_SIDE` (upsampled to 480p for
scoring) so the whole table takes under 30 minutes on 2 cores: a check that every variant trains and scores, whose
differences are mostly noise. Without it, every variant gets the recipe's full schedule (about 45 minutes each
here). Finished variants are kept in `--out` and skipped when the script is run again, so an interrupted run
resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

from vosjax.errors import UserError  # noqa: E402
from vosjax.cli.entry_point import run_entry_point  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, 'configs', 'davis2016_cpu.py')
QUICK_STEPS = 150
QUICK_SHORT_SIDE = 240

# name -> (what changes, config overrides)
VARIANTS = {
    'full': ('the recipe (GAM beside the first frame + CAM + MEM)', []),
    'full_seed1': ('the recipe, second seed', ['--config.seed=1']),
    'no_gam_temperature': ('GAM softmaxes without the learned temperature', ['--config.model.gam_temperature_init=0.0']),
    'cam_dot_mean': ("CAM's R as Eq. 4 / N instead of cosine", ['--config.model.cam_similarity=dot_mean']),
    'no_cam': ('without CAM', ['--config.model.use_cam=False']),
    'no_mem': ('without MEM', ['--config.model.use_mem=False']),
    'no_mem_position': ("MEM without position channels", ['--config.model.mem_position=False']),
    'gam_alone': ('GAM alone, without the read of the first frame', ['--config.model.gam_first_frame=False']),
    'memory_bank': ('the fixed-size memory bank (first + 2 latest frames) instead of GAM',
                    ['--config.model.matcher=memory_bank', '--config.model.gam_first_frame=False',
                     '--config.model.memory_long=0']),
    'key_norm_mean': ("key_normalization 'mean' (literal Eq. 1-3)", ['--config.model.key_normalization=mean']),
    'combine_sum': ("GAM alone, gam_combine 'sum' (the sum has no room for the first frame's read)",
                    ['--config.model.gam_combine=sum', '--config.model.gam_first_frame=False']),
}


def variant_config(overrides: list[str]):
  """configs/davis2016_cpu.py's config with a variant's `--config.a.b=value` overrides applied (as train.py would)."""
  from vosjax.configs import davis2016_cpu  # pylint: disable=import-outside-toplevel
  config = davis2016_cpu.get_config()
  for override in overrides:
    field, value = override.removeprefix('--config.').split('=', 1)
    *parents, leaf = field.split('.')
    node = config
    for parent in parents:
      node = node[parent]
    node[leaf] = (value == 'True') if isinstance(node[leaf], bool) else type(node[leaf])(value)
  return config


def _fingerprint(overrides: list[str], steps: int | None) -> str:
  """What a finished variant trained: the sha256 of its whole config (the recipe may change between runs)."""
  config = variant_config(overrides).to_dict()
  config['data'] = {k: v for k, v in config['data'].items() if not k.endswith('root')}
  return hashlib.sha256(json.dumps([config, steps], sort_keys=True, default=str).encode()).hexdigest()


def _run(command: list[str], log_path: str) -> None:
  with open(log_path, 'a') as log:
    log.write(f'$ {" ".join(command)}\n')
    log.flush()
    result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
  if result.returncode != 0:
    raise UserError(f'{os.path.basename(command[1])} failed (exit {result.returncode}); its output is in {log_path}')


def _read_json(path: str) -> dict:
  with open(path) as f:
    return json.load(f)


def run_variant(name: str, overrides: list[str], args, steps: int | None, eval_flags: list[str]) -> dict:
  """Trains and evaluates one variant (or reads its finished result)."""
  workdir = os.path.join(args.out, name)
  result_path = os.path.join(workdir, 'ablation_result.json')
  fingerprint = _fingerprint(overrides, steps)
  if os.path.isfile(result_path):
    result = _read_json(result_path)
    if result.get('config_sha256') != fingerprint:
      raise UserError(f'{result_path}: a finished run of another config (the recipe or the variant changed since); '
                      'choose another --out or remove that folder')
    return result
  os.makedirs(workdir, exist_ok=True)
  common = [f'--config={CONFIG}', f'--workdir={workdir}', f'--config.data.davis_root={args.davis_root}', *overrides]
  if steps:
    common.append(f'--config.train.num_steps={steps}')
  log_path = os.path.join(workdir, 'ablation.log')
  began = time.time()
  _run([sys.executable, os.path.join(REPO, 'train.py'), *common, '--config.train.eval_every=0',
        '--config.data.val_source='], log_path)
  trained = time.time() - began
  _run([sys.executable, os.path.join(REPO, 'evaluate.py'), *common, '--split=holdout', *eval_flags], log_path)
  stats = _read_json(os.path.join(workdir, 'eval', 'holdout', 'eval_stats-holdout.json'))
  result = {'variant': name, 'overrides': overrides, 'steps': steps, 'train_seconds': round(trained, 1),
            'J&F': stats['J&F-Mean'], 'J': stats['J-Mean'], 'F': stats['F-Mean'], 'config_sha256': fingerprint}
  with open(result_path, 'w') as f:
    json.dump(result, f, indent=1)
  return result


def run_baseline(name: str, args) -> dict:
  out = os.path.join(args.out, 'baselines', name)
  stats_path = os.path.join(out, 'eval_stats-holdout.json')
  if not os.path.isfile(stats_path):
    _run([sys.executable, os.path.join(REPO, 'evaluate.py'), f'--config={CONFIG}', '--split=holdout',
          f'--baseline={name}', f'--out={out}', f'--config.data.davis_root={args.davis_root}'],
         os.path.join(args.out, f'{name}.log'))
  stats = _read_json(stats_path)
  return {'variant': name, 'J&F': stats['J&F-Mean'], 'J': stats['J-Mean'], 'F': stats['F-Mean']}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--davis_root', required=True, help='a DAVIS-layout folder holding the held-out videos')
  parser.add_argument('--quick', action='store_true', help=f'{QUICK_STEPS} steps per variant')
  parser.add_argument('--steps', type=int, default=0, help='steps per variant (default: the recipe\'s)')
  parser.add_argument('--only', default='', help='comma-separated variants (default: all)')
  parser.add_argument('--out', default=os.path.join(REPO, 'runs', 'ablations'))
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  if not os.path.isdir(args.davis_root):
    parser.exit(2, f'ablations.py: --davis_root {args.davis_root}: folder not found\n')
  steps = args.steps or (QUICK_STEPS if args.quick else None)
  if args.quick and not args.steps:
    args.out = args.out.rstrip('/') + '_quick'
  names = [n.strip() for n in args.only.split(',') if n.strip()] or [
      n for n in VARIANTS if not (args.quick and n == 'full_seed1')]
  unknown = [n for n in names if n not in VARIANTS]
  if unknown:
    parser.exit(2, f'ablations.py: unknown variants {", ".join(unknown)}; known: {", ".join(VARIANTS)}\n')
  os.makedirs(args.out, exist_ok=True)

  began = time.time()
  rows = [run_baseline('copy_first_frame', args), run_baseline('optical_flow', args)]
  for index, name in enumerate(names):
    print(f'[{index + 1}/{len(names)}] {name}: {VARIANTS[name][0]} ({time.time() - began:.0f} s so far)', flush=True)
    eval_flags = [f'--config.eval.short_side={QUICK_SHORT_SIDE}'] if args.quick else []
    rows.append(run_variant(name, VARIANTS[name][1], args, steps, eval_flags))

  flow = rows[1]['J&F']
  resolution = f'internal short side {QUICK_SHORT_SIDE}' if args.quick else 'native 480p'
  schedule = steps or "the recipe's"
  print(f'\nHeld-out videos of configs/davis2016_cpu.py, {schedule} steps per variant, segmented at '
        f'{resolution} (baselines at 480p); {time.time() - began:.0f} s in all\n')
  print(f'| variant | what changes | J&F | J | F | vs optical flow | train s |')
  print('| --- | --- | --- | --- | --- | --- | --- |')
  for row in rows:
    what = VARIANTS[row['variant']][0] if row['variant'] in VARIANTS else 'baseline'
    print(f'| {row["variant"]} | {what} | {row["J&F"]:.3f} | {row["J"]:.3f} | {row["F"]:.3f} | '
          f'{row["J&F"] - flow:+.3f} | {row.get("train_seconds", "")} |')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'steps': steps, 'rows': rows}, f, indent=1)


if __name__ == '__main__':
  run_entry_point('ablations.py', main)
