"""The command-line flags that start several processes (hosts) with `jax.distributed`; train.py and evaluate.py."""

from __future__ import annotations

from absl import flags


def define_distributed_flags() -> None:
  """--distributed, --coordinator_address, --num_processes, --process_id."""
  flags.DEFINE_bool('distributed', False, 'call jax.distributed.initialize() (auto-detected cluster, e.g. SLURM)')
  flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, for several hosts')
  flags.DEFINE_integer('num_processes', None, 'number of processes (hosts)')
  flags.DEFINE_integer('process_id', None, 'this process')


def initialize_distributed() -> None:
  """Joins the other processes when the flags name a coordinator or ask for auto-detection; else does nothing."""
  values = flags.FLAGS
  if values.coordinator_address or values.distributed:
    import jax
    jax.distributed.initialize(values.coordinator_address, values.num_processes, values.process_id)
