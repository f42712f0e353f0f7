"""Compiled train-step memory (XLA's memory analysis) for the paper's full setting and the synthetic default.

  python benchmarks/train_memory.py [--quick] [--json PATH]

Nothing runs: each step is only compiled, from abstract shapes, and XLA reports the buffers it would allocate
(arguments, outputs, temporaries) on this machine's backend. The paper's setting is ResNet-50/18, batch 4 x 10
frames x 384x384 x 3 objects, with and without rematerialisation of each frame's activations.
"""

from __future__ import annotations

import argparse
import json
import time

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from vosjax.models import VOSNet, init_variables, paper_config, tiny_config  # noqa: E402
from vosjax.training.train_state import create_train_state, make_optimizer  # noqa: E402
from vosjax.training.train_step import make_train_step  # noqa: E402


def analyse(name, model_config, batch, frames, size, objects, remat):
  model = VOSNet(model_config)
  optimizer = make_optimizer(1e-5)
  state = jax.eval_shape(lambda: create_train_state(init_variables(model), optimizer))
  data = {'frames': jax.ShapeDtypeStruct((batch, frames, size, size, 3), jnp.uint8),
          'labels': jax.ShapeDtypeStruct((batch, frames, size, size), jnp.uint8),
          'object_valid': jax.ShapeDtypeStruct((batch, objects), jnp.bool_)}
  began = time.perf_counter()
  compiled = jax.jit(make_train_step(model, optimizer, remat=remat), donate_argnums=0).lower(state, data).compile()
  memory = compiled.memory_analysis()
  gib = lambda n: round(n / 2**30, 3)
  return {'setting': name, 'remat': remat, 'batch': batch, 'frames': frames, 'size': size, 'objects': objects,
          'backend': jax.default_backend(), 'argument_gib': gib(memory.argument_size_in_bytes),
          'output_gib': gib(memory.output_size_in_bytes), 'temp_gib': gib(memory.temp_size_in_bytes),
          'total_gib': gib(memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
                           - memory.alias_size_in_bytes),
          'compile_s': round(time.perf_counter() - began, 1)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='the paper setting with remat only, plus synthetic')
  parser.add_argument('--json')
  args = parser.parse_args()
  rows = [analyse('synthetic (tiny)', tiny_config(), 4, 5, 96, 2, False)]
  for remat in ((True,) if args.quick else (False, True)):
    rows.append(analyse('paper (ResNet-50/18)', paper_config(), 4, 10, 384, 3, remat))
  print(f'{"setting":<22} {"remat":>5} {"B x T x S":>12} {"args GiB":>9} {"temp GiB":>9} {"total GiB":>10}')
  for r in rows:
    shape = f'{r["batch"]}x{r["frames"]}x{r["size"]}'
    print(f'{r["setting"]:<22} {str(r["remat"]):>5} {shape:>12} {r["argument_gib"]:>9.3f} {r["temp_gib"]:>9.3f} '
          f'{r["total_gib"]:>10.3f}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(rows, f, indent=1)


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('train_memory.py', main)
