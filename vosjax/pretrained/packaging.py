"""Writes a trained workdir's checkpoint as a shipped model (`vosjax/pretrained/models/<name>.{npz,json}`).

    python -m vosjax.pretrained.packaging --workdir W --name NAME --figures FIGURES.json \\
        --command "python train.py ..." --data "..." [--short_side 360]

FIGURES.json holds the figures to state in the manifest (e.g. the held-out J&F of the same recipe), as measured by
the scripts that produced them; they are copied as they are.
"""

from __future__ import annotations

import argparse
import json
import os

import flax
import numpy as np

from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.errors import UserError, one_line
from vosjax.files import workdir as workdir_layout
from vosjax.files.atomic_write import atomic_path, write_text
from vosjax.inference.checkpoint_loading import load_network
from vosjax.pretrained import MODELS_DIR, sha256_of


def package(workdir: str, name: str, figures: dict, command: str, data: str, short_side: int | None,
            out_dir: str = MODELS_DIR) -> dict:
  """Writes `<out_dir>/<name>.npz` and `<name>.json` from the workdir's latest readable checkpoint."""
  model, variables, location = load_network(workdir)
  config = workdir_layout.read_config(location.workdir) or {}
  if 'model' not in config:
    raise workdir_layout.WorkdirConfigError(f'{workdir_layout.config_path(location.workdir)}: missing or without '
                                            'a model block; a shipped model needs the config it was trained with')
  flat = {'/'.join(path): np.asarray(value, np.float32)
          for path, value in flax.traverse_util.flatten_dict(dict(variables)).items()}
  os.makedirs(out_dir, exist_ok=True)
  weights = os.path.join(out_dir, f'{name}.npz')
  with atomic_path(weights) as temporary, open(temporary, 'wb') as f:
    np.savez_compressed(f, **flat)
  config = _without_local_paths(config)
  info = {
      'name': name,
      'weights_file': os.path.basename(weights),
      'sha256': sha256_of(weights),
      'model': config['model'],
      'short_side': short_side,
      'training': {'command': command, 'data': data, 'steps': location.step, 'seed': config.get('seed'),
                   'config': config},
      'figures': figures,
  }
  write_text(os.path.join(out_dir, f'{name}.json'), json.dumps(info, indent=1))
  return info


def _without_local_paths(config: dict, prefix: str = '--config') -> dict:
  """The training config with each absolute path (a folder of the machine that trained it: data roots, the
  workdir) replaced by the option that gives it, e.g. '(the folder given with --config.data.davis_root)'."""
  cleaned = {}
  for key, value in config.items():
    if isinstance(value, dict):
      cleaned[key] = _without_local_paths(value, f'{prefix}.{key}')
    elif isinstance(value, str) and os.path.isabs(value):
      cleaned[key] = f'(the folder given with {prefix}.{key})'
    else:
      cleaned[key] = value
  return cleaned


def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = ArgumentParser(prog='python -m vosjax.pretrained.packaging', description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--name', required=True)
  parser.add_argument('--figures', required=True, help='a JSON file of the figures to state')
  parser.add_argument('--command', required=True, help='the training command')
  parser.add_argument('--data', required=True, help='what it was trained on')
  parser.add_argument('--short_side', type=int, default=0, help='the internal resolution it segments at (0: native)')
  parser.add_argument('--out_dir', default=MODELS_DIR)
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  run_command('vosjax.pretrained.packaging', parse_args, _package, argv)


def _package(args: argparse.Namespace) -> None:
  try:
    with open(args.figures) as f:
      figures = json.load(f)
  except (OSError, ValueError) as error:
    raise UserError(f'{args.figures}: cannot read the figures ({one_line(error)})') from None
  info = package(args.workdir, args.name, figures, args.command, args.data, args.short_side or None, args.out_dir)
  size = os.path.getsize(os.path.join(args.out_dir, info['weights_file'])) / 2**20
  print(f'{args.name}: {size:.1f} MiB, sha256 {info["sha256"]}, step {info["training"]["steps"]}')


if __name__ == '__main__':
  main()
