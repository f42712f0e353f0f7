"""Trains vosjax: `python train.py --config configs/davis.py --workdir runs/davis`.

With no flags it trains the embedded default (the synthetic dataset, a tiny network) in `runs/synthetic`. Any config
field can be overridden (`--config.optim.lr=1e-4`). A workdir with checkpoints resumes from the latest. For several
hosts, start one process per host with the same flags plus --coordinator_address/--num_processes/--process_id (or
none of them where `jax.distributed.initialize()` detects the cluster, e.g. under SLURM with --distributed).
"""

import os
import sys

from absl import app, flags, logging

from vosjax.cli.distributed_flags import define_distributed_flags, initialize_distributed
from vosjax.cli.entry_point import absl_flags_parser, define_config_flag, run_entry_point
from vosjax.cli.xla_defaults import apply_xla_defaults

PROGRAM = 'train.py'

apply_xla_defaults()

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs', 'synthetic.py')
define_config_flag(PROGRAM, DEFAULT_CONFIG, 'a configs/*.py file')
flags.DEFINE_string('workdir', 'runs/synthetic', 'where checkpoints, metrics and the config are written')
define_distributed_flags()
flags.DEFINE_bool('debug', False, 'show the traceback of input errors too (they are one line otherwise)')


def main(argv):
  del argv
  if not any(arg.startswith(('--verbosity', '--v=', '-v')) for arg in sys.argv[1:]):
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
  initialize_distributed()
  from vosjax.training.train_lib import train_and_evaluate
  from vosjax.validation import make_validator
  try:
    run_entry_point(PROGRAM, train_and_evaluate, flags.FLAGS.config, flags.FLAGS.workdir, make_validator)
  except KeyboardInterrupt:
    sys.exit(130)  # the checkpoint is saved (see StopRequest); the shell's convention for Ctrl-C


if __name__ == '__main__':
  app.run(main, flags_parser=absl_flags_parser(PROGRAM))
