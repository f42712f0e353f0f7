"""Evaluates vosjax: `python evaluate.py --config configs/davis.py --workdir runs/davis --split val`.

With only `--split`, it evaluates the embedded default (`python train.py`'s config and workdir). The workdir's latest
checkpoint segments every video of the split into `<workdir>/eval/<split>/` (DAVIS-palette PNGs at original size),
which is then scored with the official DAVIS metric, or zipped for a benchmark's server where the ground truth is
private (YouTube-VOS, MOSE valid, LVOS test, DAVIS test-dev). `--config.eval.dataset` picks the dataset
(docs/datasets.md); `--config.eval.videos_per_batch=B` segments B videos of one frame size at a time. A killed
evaluation resumes where it stopped. Any config field can be overridden, e.g. `--config.data.root=/data/DAVIS`,
`--config.eval.short_side=480`, `--config.model.dtype=bfloat16`.

A baseline instead of the network (copy-first-frame, optical-flow or feature propagation), same writer and scorer:
  python evaluate.py --config C --split holdout --baseline optical_flow --config.data.davis_root=D

--checkpoint names what is evaluated, as for `python -m vosjax.segment` and `python -m vosjax.export`: a model
shipped with vosjax (no workdir, and the network comes from the model, not from --config), a training workdir (as
--workdir) or one step folder `<workdir>/checkpoints/<step>`:
  python evaluate.py --checkpoint davis2016-lite0 --split val --config.eval.dataset=davis --config.data.davis_root=D \
      --out O

Scoring an existing results folder, with no model:
  python evaluate.py --results_path R --davis_root D --split val [--year 2016]
"""

import os
import sys

from absl import app, flags, logging

from vosjax.cli.distributed_flags import define_distributed_flags, initialize_distributed
from vosjax.cli.entry_point import absl_flags_parser, define_config_flag, run_entry_point
from vosjax.cli.xla_defaults import apply_xla_defaults
from vosjax.evaluation.baselines import BASELINES

PROGRAM = 'evaluate.py'

apply_xla_defaults()

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs', 'synthetic.py')
define_config_flag(PROGRAM, DEFAULT_CONFIG, 'a configs/*.py file')
flags.DEFINE_string('workdir', 'runs/synthetic', 'the training workdir whose checkpoint is evaluated (without '
                    '--checkpoint); also where a baseline\'s results go')
flags.DEFINE_string('split', 'val', 'the split to evaluate (DAVIS: val, train, test-dev, holdout; YouTube-VOS, MOSE, '
                    'LVOS: valid; Long-time Video: val); docs/datasets.md')
flags.DEFINE_string('out', None, 'where results go (default <workdir>/eval/<split>; eval/<name>/<split> for a '
                    'shipped model)')
flags.DEFINE_string('checkpoint', None, 'what to evaluate: a shipped model\'s name (vosjax.pretrained.names(); its '
                    'own network, no --config needed), a training workdir or <workdir>/checkpoints/<step> (default: '
                    '--workdir)')
flags.DEFINE_string('results_path', None, 'score this existing results folder (with --davis_root), no model')
flags.DEFINE_string('davis_root', None, 'the DAVIS folder holding the ground truth for --results_path')
flags.DEFINE_enum('baseline', None, list(BASELINES),
                  'segment the split with this baseline instead of a network (into --out, default '
                  '<workdir>/baselines/<name>/<split>) and score it')
flags.DEFINE_integer('year', 2017, 'DAVIS year for --results_path (2017 or 2016)')
flags.DEFINE_string('resolution', '480p', 'DAVIS resolution folder for --results_path')
define_distributed_flags()
flags.DEFINE_bool('debug', False, 'show the traceback of input errors too (they are one line otherwise)')


def main(argv):
  del argv
  if not any(arg.startswith(('--verbosity', '--v=', '-v')) for arg in sys.argv[1:]):
    logging.set_verbosity(logging.WARNING)
  run_entry_point(PROGRAM, evaluate, flags.FLAGS)


def evaluate(args) -> None:
  """Scores a folder, runs a baseline, or evaluates a checkpoint, as the flags (`args`) say."""
  from vosjax.errors import UserError
  from vosjax.files import workdir as workdir_layout
  if args.results_path or args.davis_root:
    if not (args.results_path and args.davis_root):
      raise UserError('--results_path and --davis_root go together')
    from vosjax.evaluation.evaluate_lib import score_folder
    score_folder(args.results_path, args.davis_root, args.split, year=args.year, resolution=args.resolution,
                 workers=args.config.eval.workers)
    return
  if args.baseline:
    from vosjax.evaluation.evaluate_lib import evaluate_baseline
    out = args.out or workdir_layout.baseline_dir(args.workdir, args.baseline, args.split)
    evaluate_baseline(args.config, args.baseline, args.split, out)
    return
  initialize_distributed()
  from vosjax.evaluation.evaluate_lib import evaluate_checkpoint
  evaluate_checkpoint(args.config, args.checkpoint or args.workdir, args.split, args.out)


if __name__ == '__main__':
  app.run(main, flags_parser=absl_flags_parser(PROGRAM))
