"""The whole network: frame-by-frame steps against the scanned clip, state size, switches, gradients."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import flax.linen as nn

from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.models import (EfficientNetConfig, VOSNet, init_variables, memory_frames_in_clip, tiny_config,
                           unroll_clip)
from vosjax.models.resnet import ResNet

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


def _frame_by_frame(model, variables, video, masks, valid, joins=None):
  """Inference as an engine runs it: start, then one jitted step per frame. The memory bank's capacity is grown on
  the host before a frame it stores, and frames it does not store skip the mask encoder (store=False).

  joins: optional {frame index: (new_masks [B, K, H, W], new_objects [B, K])}.
  """
  policy = MemoryPolicy.of(model.config)
  joins = joins or {}
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step), static_argnames='store')
  state = start(variables, video[:, 0], masks, valid)
  stored, outputs = 1, []
  for t in range(1, video.shape[1]):
    new_masks, new_objects = joins.get(t, (None, None))
    store = policy.stores(t, joining=t in joins)
    if store:
      state = policy.make_room(state, stored)
      stored += 1
    state, logits = step(variables, state, video[:, t], new_masks, new_objects, store=store)
    outputs.append(logits)
  return state, jnp.stack(outputs, axis=1)


@pytest.mark.parametrize('matcher,objects,valid_objects,extra', [
    ('global', 1, 1, {}),
    ('global', 3, 2, {}),
    ('global', 2, 2, {'gam_temperature_init': 4.0, 'cam_similarity': 'cosine'}),
    ('global', 3, 2, {'gam_first_frame': True}),
    ('global', 3, 2, {'gam_memory': True, 'memory_recent': 2}),
    ('memory_bank', 3, 2, {}),
    ('memory_bank', 2, 1, {'memory_recent': 2}),
    ('memory_bank', 2, 1, {'memory_recent': 2, 'memory_local_radius': 1}),
])
def test_step_and_scan_agree(matcher, objects, valid_objects, extra):
  model, variables = _model(matcher=matcher, memory_every=2, **extra)
  video, masks, valid = _clip(2, 7, objects, valid_objects)
  chex.clear_trace_counter()  # the counter is per function across the parametrised cases

  @jax.jit
  @chex.assert_max_traces(n=1)
  def unroll(variables, video, masks, valid):
    return unroll_clip(model, variables, video, masks, valid)

  scanned = unroll(variables, video, masks, valid)
  chex.assert_shape(scanned, (2, 6, objects + 1, HEIGHT, WIDTH))
  unroll(variables, video + 1.0, masks, valid)  # same shapes: no second trace
  state, stepped = _frame_by_frame(model, variables, video, masks, valid)
  np.testing.assert_allclose(np.asarray(stepped), np.asarray(scanned), atol=2e-4, rtol=1e-4)
  probs = jax.nn.softmax(scanned, axis=2)
  assert float(probs[:, :, valid_objects + 1:].max(initial=0.0)) < 1e-3  # padded slots never win
  if matcher == 'memory_bank' and not extra:
    # Frames 0, 2, 4, 6 were memorised; the bank started with 2 slots and doubled once.
    np.testing.assert_array_equal(state.matcher.count, [4, 4])
    assert state.matcher.capacity == 4
  if matcher == 'memory_bank' and extra.get('memory_recent'):
    # The same 4 frames went through a fixed memory of the first + 2 recent.
    np.testing.assert_array_equal(state.matcher.count, [4, 4])
    assert state.matcher.capacity == 3
  if extra.get('memory_local_radius'):  # the window is applied: the same weights read otherwise without it
    unwindowed = VOSNet(dataclasses.replace(model.config, memory_local_radius=0))
    plain = unroll_clip(unwindowed, variables, video, masks, valid)
    assert float(jnp.max(jnp.abs(plain - scanned))) > 1e-3
  first_key = model.apply(variables, video[:, 0], method=VOSNet.encode_frame).key.reshape(2, -1, model.config.key_dim)
  if extra.get('gam_first_frame'):  # beside GAM's context of all 7 frames: frame 0's keys, in its only slot
    np.testing.assert_array_equal(state.matcher.count, [[7, 7, 0], [7, 7, 0]])
    np.testing.assert_array_equal(state.side_bank.count, [1, 1])
    assert state.side_bank.capacity == 1
    np.testing.assert_allclose(np.asarray(state.side_bank.keys[:, 0]), np.asarray(first_key), atol=1e-5)
  elif extra.get('gam_memory'):  # beside GAM's context of all 7 frames: the first + 2 latest of frames 0, 2, 4, 6
    np.testing.assert_array_equal(state.matcher.count, [[7, 7, 0], [7, 7, 0]])
    np.testing.assert_array_equal(state.side_bank.count, [4, 4])
    assert state.side_bank.capacity == 3
    np.testing.assert_allclose(np.asarray(state.side_bank.keys[:, 0]), np.asarray(first_key), atol=1e-5)
  else:
    assert state.side_bank is None


def test_first_frame_read_needs_gam_with_concatenation():
  with pytest.raises(ValueError, match='gam_first_frame'):
    tiny_config(matcher='memory_bank', gam_first_frame=True)
  with pytest.raises(ValueError, match='gam_first_frame'):
    tiny_config(gam_combine='sum', gam_first_frame=True)
  with pytest.raises(ValueError, match='gam_memory'):
    tiny_config(gam_memory=True)  # no fixed-size bank to keep (memory_recent=0)
  with pytest.raises(ValueError, match='gam_memory'):
    tiny_config(matcher='memory_bank', gam_memory=True, memory_recent=2)
  tiny_config(gam_memory=True, memory_recent=2)


def test_a_local_window_needs_frames_after_the_first_to_window():
  for overrides in ({}, {'gam_first_frame': True}):  # GAM alone, or beside the first frame only: nothing to window
    with pytest.raises(ValueError, match='memory_local_radius'):
      tiny_config(memory_local_radius=2, **overrides)
  tiny_config(matcher='memory_bank', memory_local_radius=2)
  tiny_config(gam_memory=True, memory_recent=2, memory_local_radius=2)


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
    {'mem_position': False},
    {'dtype': 'bfloat16'},
    {'frame_encoder': EfficientNetConfig('lite0'), 'mask_encoder': EfficientNetConfig('lite0'), 'fuser_dim': 16},
], ids=lambda o: ','.join(f'{k}={getattr(v, "variant", v)}' for k, v in o.items()))
def test_config_switches_run(overrides):
  model, variables = _model(**overrides)
  video, masks, valid = _clip(1, 3, 2, 2)
  logits = jax.jit(functools.partial(unroll_clip, model))(variables, video, masks, valid)
  chex.assert_shape(logits, (1, 2, 3, HEIGHT, WIDTH))
  assert bool(jnp.all(jnp.isfinite(logits)))
  names = set(variables['params'])
  assert ('channel_attention' in names) == model.config.use_cam
  assert ('mask_embedding' in names) == model.config.use_mem


def test_bfloat16_step_and_scan_agree():
  model, variables = _model(dtype='bfloat16')
  video, masks, valid = _clip(1, 4, 2, 2)
  scanned = jax.jit(functools.partial(unroll_clip, model))(variables, video, masks, valid)
  _, stepped = _frame_by_frame(model, variables, video, masks, valid)
  np.testing.assert_allclose(np.asarray(stepped), np.asarray(scanned), atol=1e-2)


@pytest.mark.parametrize('num_frames', [2, 3, 4])
def test_unrolled_clip_has_no_loop_at_any_length(num_frames):
  """Unrolled (the default without remat), a clip's gradient is straight-line code, whose backward pass XLA's CPU
  backend runs about 3x faster than a while loop's: also for 3 frames, where one scan step would keep its loop.
  With remat, the loop stays (its memory saving needs it). The result is frame-by-frame inference's."""
  model, variables = _model()
  video, masks, valid = _clip(1, num_frames, 2, 2)

  def loops(remat):
    loss = lambda v: jnp.sum(unroll_clip(model, variables, v, masks, valid, remat=remat))
    return jax.jit(jax.grad(loss)).lower(video).as_text().count('stablehlo.while')

  assert loops(remat=False) == 0
  if num_frames > 2:
    assert loops(remat=True) > 0
  scanned = jax.jit(functools.partial(unroll_clip, model))(variables, video, masks, valid)
  _, stepped = _frame_by_frame(model, variables, video, masks, valid)
  np.testing.assert_allclose(np.asarray(stepped), np.asarray(scanned), atol=2e-4, rtol=1e-4)


def test_frame_encoder_runs_once_per_frame_whatever_the_number_of_objects():
  model, variables = _model()
  for objects in (1, 3):
    video, masks, valid = _clip(1, 5, objects, objects)
    calls = []

    def count(next_fun, args, kwargs, context):
      if isinstance(context.module, ResNet) and context.method_name == '__call__':
        # With per-frame channels (`shared`, the mask encoder's RGB), the input is [B, K, H, W, C]: B * K images.
        images = args[0].shape[0] * (args[0].shape[1] if kwargs.get('shared') is not None else 1)
        calls.append((context.module.name, images))
      return next_fun(*args, **kwargs)

    with nn.intercept_methods(count):
      jax.eval_shape(functools.partial(unroll_clip, model), variables, video, masks, valid)
    frame_calls = [batch for name, batch in calls if name == 'frame_encoder']
    assert frame_calls == [5]  # one call on all 5 frames of the clip
    mask_calls = [batch for name, batch in calls if name == 'resnet']
    assert mask_calls == [objects, objects]  # reference frame + the scan body: one mask per object


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


@pytest.mark.parametrize('matcher', ['global', 'memory_bank'])
def test_object_joining_mid_video(matcher):
  model, variables = _model(matcher=matcher, memory_every=5)
  video, masks, valid = _clip(1, 5, 2, 2)
  start_valid = valid.at[:, 1].set(False)  # object 2 is absent from the first frame
  first_masks = masks.at[:, 1].set(0.0)
  new_mask = jnp.zeros((1, 2, HEIGHT, WIDTH)).at[:, 1, 30:40, 40:60].set(1.0)
  joins = {2: (new_mask, jnp.array([[False, True]]))}
  state, stepped = _frame_by_frame(model, variables, video, first_masks, start_valid, joins)
  probs = jax.nn.softmax(stepped, axis=2)
  assert float(probs[0, 0, 2].max()) < 1e-3  # before joining, object 2 is never predicted
  labels = jnp.argmax(stepped[0, 1], axis=0)  # frame 2: the given mask is the answer
  np.testing.assert_array_equal(labels[30:40, 40:60], 2)
  assert int(jnp.sum(labels == 2)) == 200
  np.testing.assert_array_equal(state.object_valid, [[True, True]])
  if matcher == 'global':
    np.testing.assert_array_equal(state.matcher.count, [[5, 3]])  # frames 0-4 and 2-4
  else:
    np.testing.assert_array_equal(state.matcher.count, [2])  # frame 0, and frame 2 where the object joined
  # The same clip through the scan, joins included, gives the same numbers.
  new_masks = jnp.zeros((1, 5, 2, HEIGHT, WIDTH)).at[:, 2].set(new_mask)
  new_objects = jnp.zeros((1, 5, 2), bool).at[:, 2, 1].set(True)
  scanned = jax.jit(functools.partial(unroll_clip, model))(variables, video, first_masks, start_valid, new_masks,
                                                           new_objects)
  np.testing.assert_allclose(np.asarray(stepped), np.asarray(scanned), atol=2e-4, rtol=1e-4)


def test_joining_object_history_is_its_given_mask():
  model, variables = _model()
  video, masks, valid = _clip(1, 3, 2, 2)
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step), static_argnames='store')
  state = start(variables, video[:, 0], masks.at[:, 1].set(0.0), valid.at[:, 1].set(False))
  new_mask = jnp.zeros((1, 2, HEIGHT, WIDTH)).at[:, 1, 30:40, 40:60].set(1.0)
  state, _ = step(variables, state, video[:, 1], new_mask, jnp.array([[False, True]]))
  for slot in range(model.config.mem_history):  # every past slot MEM reads shows the given mask
    np.testing.assert_allclose(state.history[0, slot, 1], new_mask[0, 1], atol=1e-6)


def test_memory_frames_in_clip():
  assert memory_frames_in_clip(10, 1) == 9
  assert memory_frames_in_clip(10, 5) == 2  # frames 0 and 5
  assert memory_frames_in_clip(2, 5) == 1
