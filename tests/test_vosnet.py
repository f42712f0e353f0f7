"""The whole network: frame-by-frame steps against the scanned clip, state size, switches, gradients."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vosjax.models import (VOSNet, grow_memory_bank, init_variables, memory_frames_in_clip, tiny_config,
                           unroll_clip)

HEIGHT, WIDTH = 48, 64


def _clip(batch, frames, objects, valid_objects, seed=0):
  rng = np.random.RandomState(seed)
  video = rng.randn(batch, frames, HEIGHT, WIDTH, 3).astype(np.float32)
  masks = np.zeros((batch, objects, HEIGHT, WIDTH), np.float32)
  for k in range(valid_objects):
    top, left = 4 + 12 * k, 6 + 14 * k
    masks[:, k, top:top + 14, left:left + 18] = 1.0
  valid = np.zeros((batch, objects), bool)
  valid[:, :valid_objects] = True
  return jnp.asarray(video), jnp.asarray(masks), jnp.asarray(valid)


@functools.lru_cache(maxsize=None)
def _model(**overrides):
  model = VOSNet(tiny_config(**overrides))
  return model, init_variables(model, seed=1)


def _frame_by_frame(model, variables, video, masks, valid, grow_memory=False):
  """Inference as an engine would run it: start, then one jitted step per frame."""
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step))
  state = start(variables, video[:, 0], masks, valid)
  outputs = []
  for t in range(1, video.shape[1]):
    if grow_memory and t % model.config.memory_every == 0 and int(state.matcher.count[0]) == state.matcher.capacity:
      state = state.replace(matcher=grow_memory_bank(state.matcher, state.matcher.capacity + 2))
    state, logits = step(variables, state, video[:, t])
    outputs.append(logits)
  return state, jnp.stack(outputs, axis=1)


@pytest.mark.parametrize('matcher,objects,valid_objects', [
    ('global', 1, 1),
    ('global', 3, 2),
    ('memory_bank', 3, 2),
])
def test_step_and_scan_agree(matcher, objects, valid_objects):
  model, variables = _model(matcher=matcher, memory_every=2)
  video, masks, valid = _clip(2, 7, objects, valid_objects)
  chex.clear_trace_counter()  # the counter is per function across the parametrised cases

  @jax.jit
  @chex.assert_max_traces(n=1)
  def unroll(variables, video, masks, valid):
    return unroll_clip(model, variables, video, masks, valid)

  scanned = unroll(variables, video, masks, valid)
  chex.assert_shape(scanned, (2, 6, objects + 1, HEIGHT, WIDTH))
  unroll(variables, video + 1.0, masks, valid)  # same shapes: no second trace
  state, stepped = _frame_by_frame(model, variables, video, masks, valid, grow_memory=matcher == 'memory_bank')
  np.testing.assert_allclose(np.asarray(stepped), np.asarray(scanned), atol=2e-4, rtol=1e-4)
  probs = jax.nn.softmax(scanned, axis=2)
  assert float(probs[:, :, valid_objects + 1:].max(initial=0.0)) < 1e-3  # padded slots never win
  if matcher == 'memory_bank':
    # Frames 0, 2, 4, 6 were memorised; the bank started with 2 slots and grew.
    np.testing.assert_array_equal(state.matcher.count, [4, 4])
    assert state.matcher.capacity == 4


def test_gam_state_is_the_same_size_after_1_and_100_steps_and_compiles_once():
  model, variables = _model()
  video, masks, valid = _clip(1, 2, 2, 2)
  state = jax.jit(functools.partial(model.apply, method=VOSNet.start))(variables, video[:, 0], masks, valid)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(variables, state, frame):
    return model.apply(variables, state, frame, method=VOSNet.step)

  state, _ = step(variables, state, video[:, 1])
  after_one = jax.tree.map(lambda x: (x.shape, x.dtype), state)
  for _ in range(99):
    state, logits = step(variables, state, video[:, 1])
  assert jax.tree.map(lambda x: (x.shape, x.dtype), state) == after_one
  np.testing.assert_array_equal(state.matcher.count, [[101, 101]])
  np.testing.assert_array_equal(state.frame_index, [100])
  assert bool(jnp.all(jnp.isfinite(logits)))


@pytest.mark.parametrize('overrides', [
    {'use_cam': False},
    {'use_mem': False},
    {'use_cam': False, 'use_mem': False},
    {'gam_combine': 'sum', 'key_normalization': 'mean'},
    {'mask_encoder_rgb': False},
    {'dtype': 'bfloat16'},
], ids=lambda o: ','.join(f'{k}={v}' for k, v in o.items()))
def test_config_switches_run(overrides):
  model, variables = _model(**overrides)
  video, masks, valid = _clip(1, 3, 2, 2)
  logits = jax.jit(functools.partial(unroll_clip, model))(variables, video, masks, valid)
  chex.assert_shape(logits, (1, 2, 3, HEIGHT, WIDTH))
  assert bool(jnp.all(jnp.isfinite(logits)))
  names = set(variables['params'])
  assert ('channel_attention' in names) == model.config.use_cam
  assert ('mask_embedding' in names) == model.config.use_mem


def test_gradients_are_finite_and_reach_every_parameter():
  model, variables = _model()
  video, masks, valid = _clip(2, 4, 2, 2, seed=3)
  targets = jax.random.randint(jax.random.key(0), (2, 3, HEIGHT, WIDTH), 0, 3)

  def loss_fn(params):
    logits = unroll_clip(model, {'params': params, 'batch_stats': variables['batch_stats']}, video, masks, valid)
    logits = jnp.moveaxis(logits, 2, -1)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

  loss, grads = jax.jit(jax.value_and_grad(loss_fn))(variables['params'])
  assert np.isfinite(float(loss))
  flat = {jax.tree_util.keystr(path): g for path, g in jax.tree_util.tree_leaves_with_path(grads)}
  assert len(flat) == len(jax.tree.leaves(variables['params']))
  not_finite = [name for name, g in flat.items() if not bool(jnp.all(jnp.isfinite(g)))]
  zero = [name for name, g in flat.items() if float(jnp.max(jnp.abs(g))) == 0.0]
  assert not not_finite, not_finite
  assert not zero, zero


def test_object_joining_mid_video_takes_its_given_mask():
  model, variables = _model()
  video, masks, valid = _clip(1, 4, 2, 2)
  start_valid = valid.at[:, 1].set(False)  # object 2 is absent from the first frame
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step))
  state = start(variables, video[:, 0], masks.at[:, 1].set(0.0), start_valid)
  state, before = step(variables, state, video[:, 1])
  assert float(jax.nn.softmax(before, axis=1)[:, 2].max()) < 1e-3
  np.testing.assert_array_equal(state.matcher.count, [[2, 0]])
  new_mask = jnp.zeros((1, 2, HEIGHT, WIDTH)).at[:, 1, 30:40, 40:60].set(1.0)
  state, joined = step(variables, state, video[:, 2], new_mask, jnp.array([[False, True]]))
  labels = jnp.argmax(joined, axis=1)
  np.testing.assert_array_equal(labels[0, 30:40, 40:60], 2)  # the given mask is this frame's answer
  assert int(jnp.sum(labels == 2)) == 200  # and nowhere else
  np.testing.assert_array_equal(state.object_valid, [[True, True]])
  np.testing.assert_array_equal(state.matcher.count, [[3, 1]])
  state, after = step(variables, state, video[:, 3])
  assert bool(jnp.all(jnp.isfinite(after)))


def test_memory_frames_in_clip():
  assert memory_frames_in_clip(10, 1) == 9
  assert memory_frames_in_clip(10, 5) == 2  # frames 0 and 5
  assert memory_frames_in_clip(2, 5) == 1
