"""What a trained workdir's CAM and GAM do on held-out real frames (see `vosjax.evaluation.module_statistics`).

  python benchmarks/inspect_modules.py --workdir W --davis_root D [--videos bear,hockey] [--short_side 240]
                                       [--frames 30] [--json PATH]

Prints one table row per statistic; the videos default to the held-out videos of the workdir's config.json.
"""

from __future__ import annotations

import argparse
import json
import os

from vosjax.data import davis_videos  # noqa: E402
from vosjax.evaluation.module_statistics import module_statistics  # noqa: E402
from vosjax.inference.checkpoint_loading import load_network  # noqa: E402
from vosjax.data.holdout import holdout_videos  # noqa: E402
from vosjax.cli.entry_point import run_entry_point  # noqa: E402

MEANING = {
    'alpha': "CAM's alpha = softplus(rho)",
    'cam_entropy_ratio': "entropy of R' columns / log C (1 uniform, 0 one-hot)",
    'cam_max_weight': "largest weight of an R' column",
    'cam_diagonal_weight': "weight of an R' column on its own channel (1 = identity)",
    'uniform_weight': '1 / C, the weight of a uniform column',
    'cam_residual_ratio': '|alpha f_R| / |f_in| (0 = CAM adds nothing)',
    'read_spatial_share': "share of D_T's energy that varies over positions",
    'value_spatial_share': "same share for V_L (the frame's own value)",
    'read_separation': 'D_T: object vs background mean distance / spread',
    'value_separation': 'V_L: object vs background mean distance / spread',
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--davis_root', required=True)
  parser.add_argument('--videos', default='', help='comma-separated (default: the config\'s data.holdout)')
  parser.add_argument('--short_side', type=int, default=-1, help='internal resolution (default: the config\'s)')
  parser.add_argument('--frames', type=int, default=30, help='frames per video')
  parser.add_argument('--json', default='')
  args = parser.parse_args()
  with open(os.path.join(args.workdir, 'config.json')) as f:
    config = json.load(f)
  names = args.videos or config['data'].get('holdout', '')
  short_side = args.short_side if args.short_side >= 0 else config['eval']['short_side']
  videos = holdout_videos(davis_videos(args.davis_root, 'train'), names)
  model, variables, location = load_network(args.workdir)
  stats = module_statistics(model, variables, videos, short_side=short_side or None, max_frames=args.frames)
  print(f'{location.directory}/{location.step} on {len(videos)} videos ({names}), short side {short_side or "native"}')
  print('| statistic | value | meaning |\n| --- | --- | --- |')
  for key, value in stats.items():
    print(f'| {key} | {value:.4f} | {MEANING.get(key, "")} |')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(stats, f, indent=1)


if __name__ == '__main__':
  run_entry_point('inspect_modules.py', main)
