"""One process of the two-process data-parallel test (run by tests/test_distributed.py, not collected by pytest).

  python distributed_worker.py PORT PROCESS_ID OUT.npz
"""

import os
import sys

os.environ['JAX_PLATFORMS'] = 'cpu'
os.environ['XLA_FLAGS'] = '--xla_backend_optimization_level=0'

import jax  # noqa: E402
import numpy as np  # noqa: E402


def main():
  port, process_id, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
  try:
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  except (AttributeError, KeyError, ValueError):
    pass  # newer jax: gloo is the default
  jax.distributed.initialize(coordinator_address=f'127.0.0.1:{port}', num_processes=2, process_id=process_id,
                             local_device_ids=None)
  from test_training_step import MODEL, _batch, _variables
  from vosjax.training.sharding import data_mesh, global_batch, replicated
  from vosjax.training.train_state import create_train_state, make_optimizer
  from vosjax.training.train_step import make_train_step
  assert jax.process_count() == 2 and len(jax.devices()) == 2
  mesh = data_mesh()
  optimizer = make_optimizer(1e-3)
  state = jax.device_put(create_train_state(_variables(), optimizer), replicated(mesh))
  full = _batch(batch_size=4)
  local = {k: v[2 * process_id:2 * process_id + 2] for k, v in full.items()}  # this host's half of the batch
  step = jax.jit(make_train_step(MODEL, optimizer), in_shardings=(replicated(mesh), None),
                 out_shardings=(replicated(mesh), replicated(mesh)))
  new_state, metrics = step(state, global_batch(local, mesh))
  params = jax.tree.leaves(jax.device_get(new_state.params))
  np.savez(out, loss=np.asarray(metrics['loss']), *params)
  jax.distributed.shutdown()


if __name__ == '__main__':
  main()
