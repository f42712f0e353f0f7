"""The whole tracker computes the same numbers as a stored reference (a golden file).

tests/data/step_reference.npz holds, for three tiny networks (3 objects of which one joins at frame 2 with cosine
CAM and GAM's temperature; 'sum' combination; the memory bank), their variables and the logits of 4 frames and the
final state, written by this file's `write_reference` with the code of commit 0c43453, before the per-frame work of
the mask encoder's first convolution and fusion, CAM's V_L block, the skip broadcast and the bilinear resize was split
from the per-object work. The variables are stored too (`<case>:var:<path>`), so the comparison does not rest on a
random generator's values, which JAX does not promise to keep across backends and versions.

    python tests/test_step_reference.py   # rewrites the file from the current code (only on purpose)
"""

import os
import sys

import flax
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


def _stored_variables(name: str, model: VOSNet):
  """The case's variables from the reference file (its shapes checked against the model's)."""
  reference = np.load(REFERENCE)
  prefix = f'{name}:var:'
  flat = {tuple(k[len(prefix):].split('/')): reference[k] for k in reference.files if k.startswith(prefix)}
  variables = flax.traverse_util.unflatten_dict(flat)
  shapes = jax.tree.map(np.shape, jax.eval_shape(lambda: init_variables(model, seed=1)))
  assert jax.tree.map(np.shape, variables) == jax.tree.map(tuple, shapes, is_leaf=lambda x: isinstance(x, tuple))
  return variables


def _flat_variables(variables) -> dict[str, np.ndarray]:
  return {'/'.join(path): np.asarray(v) for path, v in flax.traverse_util.flatten_dict(variables).items()}


def _run(name: str, variables=None) -> dict[str, np.ndarray]:
  """Start on frame 0 and step 4 frames (a horizontally sliding random image); returns logits and final state."""
  case = CASES[name]
  model = VOSNet(tiny_config(**case['config']))
  variables = _stored_variables(name, model) if variables is None else variables
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
  arrays = {}
  for name in CASES:
    variables = init_variables(VOSNet(tiny_config(**CASES[name]['config'])), seed=1)
    arrays.update({f'{name}:var:{key}': value for key, value in _flat_variables(variables).items()})
    arrays.update({f'{name}:out:{key}': value for key, value in _run(name, variables).items()})
  np.savez_compressed(path, **arrays)


if __name__ == '__main__':
  write_reference(sys.argv[1] if len(sys.argv) > 1 else REFERENCE)
