"""The whole tracker computes the same numbers after the per-frame/per-object restructuring of issue 12, part 1.

tests/data/step_reference.npz holds the logits of 4 frames and the final state of three tiny networks (3 objects of
which one joins at frame 2 with cosine CAM and GAM's temperature; 'sum' combination; the memory bank), written by
this file's `write_reference` with the code of commit 0c43453, before the mask encoder's first convolution and fusion,
CAM's V_L block, the skip broadcast and the bilinear resize were split into per-frame and per-object work. The
network's parameters come from `init_variables(seed=1)`, whose values the restructuring keeps (same names, shapes and
initialisers), which the comparison also checks.

    python tests/test_step_reference.py   # rewrites the file from the current code (only on purpose)
"""

import os
import sys

import jax
import numpy as np
import pytest

from vosjax.models import VOSNet, init_variables, tiny_config

REFERENCE = os.path.join(os.path.dirname(__file__), 'data', 'step_reference.npz')
CASES = {
    'cosine_k3_join': dict(config=dict(cam_similarity='cosine', gam_temperature_init=4.0), objects=3, valid=2),
    'sum_k2': dict(config=dict(gam_combine='sum'), objects=2, valid=2),
    'bank_k2': dict(config=dict(matcher='memory_bank', memory_every=2), objects=2, valid=2),
}
HEIGHT, WIDTH, STEPS = 48, 64, 4


def _run(name: str) -> dict[str, np.ndarray]:
  """Start on frame 0 and step 4 frames (a horizontally sliding random image); returns logits and final state."""
  case = CASES[name]
  model = VOSNet(tiny_config(**case['config']))
  variables = init_variables(model, seed=1)
  objects, valid = case['objects'], case['valid']
  base = np.random.default_rng(0).normal(size=(HEIGHT, WIDTH, 3)).astype(np.float32)
  frames = [np.roll(base, 3 * t, axis=1)[None] for t in range(STEPS + 1)]
  masks = np.zeros((1, objects, HEIGHT, WIDTH), np.float32)
  for k in range(objects):
    masks[0, k, 8 + 6 * k:24 + 6 * k, 6 + 16 * k:26 + 16 * k] = 1
  object_valid = np.arange(objects)[None] < valid
  start = jax.jit(lambda v, f, m, o: model.apply(v, f, m, o, method=VOSNet.start))
  step = jax.jit(lambda v, s, f, nm, no: model.apply(v, s, f, nm, no, method=VOSNet.step))
  state = start(variables, frames[0], masks * object_valid[..., None, None], object_valid)
  out = {}
  for t in range(1, STEPS + 1):
    joining = np.zeros((1, objects), bool)
    if t == 2 and valid < objects:
      joining[0, valid:] = True  # the third object joins at frame 2
    state, logits = step(variables, state, frames[t], masks, joining)
    out[f'logits{t}'] = np.asarray(logits)
  for index, leaf in enumerate(jax.tree.leaves(state)):
    out[f'state{index}'] = np.asarray(leaf)
  return out


@pytest.mark.parametrize('name', sorted(CASES))
def test_step_equals_the_reference(name):
  reference = np.load(REFERENCE)
  out = _run(name)
  expected_keys = sorted(k.split(':', 2)[2] for k in reference.files if k.startswith(f'{name}:out:'))
  assert sorted(out) == expected_keys
  for key, value in out.items():
    np.testing.assert_allclose(value.astype(np.float64), reference[f'{name}:out:{key}'], rtol=1e-6, atol=1e-5,
                               err_msg=f'{name} {key}')


def write_reference(path: str = REFERENCE) -> None:
  arrays = {f'{name}:out:{key}': value for name in CASES for key, value in _run(name).items()}
  np.savez_compressed(path, **arrays)


if __name__ == '__main__':
  write_reference(sys.argv[1] if len(sys.argv) > 1 else REFERENCE)
