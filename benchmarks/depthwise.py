"""Depthwise convolutions on this machine: grouped convolution against the sum of shifted slices, in EfficientNet-Lite.

  python benchmarks/depthwise.py [--variant lite0] [--repeats 5]

Rows, for each form of the depthwise convolution (`vosjax.models.depthwise`), fp32, with the XLA flags the entry
points set (`vosjax.cli.xla_defaults`):
* inference: the encoder to stride 16 on one 480x864 frame (median of --repeats after compilation);
* training: forward + backward (gradients with respect to the input and to every weight) on 20 frames of 160x160,
  the recipe's clip batch (4 clips x 5 frames).
The two forms' outputs are compared (largest difference relative to the largest output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from unittest import mock

from vosjax.cli.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()  # before JAX starts its backend

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from vosjax.models import EfficientNetConfig  # noqa: E402
from vosjax.models import depthwise, efficientnet  # noqa: E402


def _timed(function, *args, repeats: int) -> tuple[float, object]:
  out = jax.block_until_ready(function(*args))  # compile
  times = []
  for _ in range(repeats):
    began = time.perf_counter()
    out = jax.block_until_ready(function(*args))
    times.append(time.perf_counter() - began)
  return statistics.median(times) * 1e3, out


def measure(variant: str, method: str, repeats: int) -> dict:
  """Times one form of the depthwise convolution inside the encoder."""
  original = depthwise.depthwise_conv
  with mock.patch.object(efficientnet, 'depthwise_conv',
                         lambda x, k, s, p, method_=method: original(x, k, s, p, method_)):
    model = efficientnet.EfficientNetLite(EfficientNetConfig(variant))
    variables = model.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
    frame = jnp.asarray(np.random.RandomState(0).randn(1, 480, 864, 3).astype(np.float32))
    clips = jnp.asarray(np.random.RandomState(1).randn(20, 160, 160, 3).astype(np.float32))
    forward = jax.jit(lambda v, x: model.apply(v, x)['layer3'])

    def loss(params, x):
      return jnp.mean(jnp.square(model.apply({**variables, 'params': params}, x)['layer3']))

    backward = jax.jit(jax.grad(loss, argnums=(0, 1)))
    inference_ms, out = _timed(forward, variables, frame, repeats=repeats)
    training_ms, _ = _timed(backward, variables['params'], clips, repeats=repeats)
  return {'method': method, 'inference_ms': inference_ms, 'training_ms': training_ms, 'out': np.asarray(out)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--variant', default='lite0', choices=('lite0', 'lite1', 'lite2'))
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  rows = [measure(args.variant, method, args.repeats) for method in ('grouped', 'slices')]
  reference = rows[0]['out']
  print(f'EfficientNet-{args.variant} to stride 16, fp32, {jax.devices()[0].device_kind}, '
        f'XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}')
  print('| depthwise convolution as | inference, 1 x 480x864 (ms) | training fwd+bwd, 20 x 160x160 (ms) | '
        'max rel. difference |')
  print('| --- | --- | --- | --- |')
  for row in rows:
    difference = np.abs(row['out'] - reference).max() / np.abs(reference).max()
    print(f"| {row['method']} | {row['inference_ms']:.0f} | {row['training_ms']:.0f} | {difference:.1e} |")


if __name__ == '__main__':
  main()
