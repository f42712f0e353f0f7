"""The train step: frozen batch-norm, the BN-affine switch, the loss, and data parallelism over 4 devices."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vosjax.models import EfficientNetConfig, VOSNet, init_variables, tiny_config
from vosjax.models.efficientnet import EfficientNetLite
from vosjax.training.loss import mean_iou, segmentation_loss
from vosjax.training.sharding import batch_sharding, data_mesh, replicated
from vosjax.training.train_state import (batch_norm_labels, create_train_state, learning_rate_schedule, make_optimizer,
                                         stop_frozen_gradients)
from vosjax.training.train_step import make_train_step

MODEL = VOSNet(tiny_config())


@functools.lru_cache(maxsize=None)
def _variables():
  return init_variables(MODEL, seed=0)


def _batch(batch_size=4, frames=3, size=32, objects=2, seed=0):
  rng = np.random.default_rng(seed)
  labels = np.zeros((batch_size, frames, size, size), np.uint8)
  for b in range(batch_size):
    for t in range(frames):
      labels[b, t, 4 + t:14 + t, 4:14] = 1
      labels[b, t, 18:28, 16 + t:26 + t] = 2
  return {'frames': rng.integers(0, 255, (batch_size, frames, size, size, 3), dtype=np.uint8),
          'labels': labels, 'object_valid': np.ones((batch_size, objects), bool)}


def test_batch_norm_statistics_never_change_and_bn_affine_can_be_frozen():
  for train_bn_affine in (True, False):
    optimizer = make_optimizer(1e-2, train_batch_norm_affine=train_bn_affine)
    state = create_train_state(_variables(), optimizer)
    step = jax.jit(make_train_step(MODEL, optimizer))
    new_state, metrics = step(state, _batch())
    new_state, metrics = step(new_state, _batch(seed=1))
    assert np.isfinite(float(metrics['loss']))
    for old, new in zip(jax.tree.leaves(state.batch_stats), jax.tree.leaves(new_state.batch_stats)):
      np.testing.assert_array_equal(old, new)  # bit-identical
    labels = jax.tree.leaves(batch_norm_labels(state.params))
    changed = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params),
                                                         jax.tree.leaves(new_state.params))]
    bn_changed = [c for c, label in zip(changed, labels) if label == 'bn']
    other_changed = [c for c, label in zip(changed, labels) if label == 'other']
    assert bn_changed and all(other_changed)
    assert all(bn_changed) if train_bn_affine else not any(bn_changed)
    assert int(new_state.step) == 2


@pytest.mark.parametrize('scale', [0.0, 0.1])
def test_frame_encoder_can_be_frozen_or_slowed(scale):
  optimizer = make_optimizer(1e-2, frame_encoder_lr_scale=scale)
  full = make_optimizer(1e-2)
  state = create_train_state(_variables(), optimizer)
  step = jax.jit(make_train_step(MODEL, optimizer, freeze_frame_encoder=scale == 0))
  new_state, metrics = step(state, _batch())
  reference, _ = jax.jit(make_train_step(MODEL, full))(create_train_state(_variables(), full), _batch())
  assert np.isfinite(float(metrics['loss']))
  moved = lambda a, b: jax.tree.map(lambda x, y: float(jnp.abs(x - y).max()), a, b)
  encoder = jax.tree.leaves(moved(state.params['frame_encoder'], new_state.params['frame_encoder']))
  encoder_full = jax.tree.leaves(moved(state.params['frame_encoder'], reference.params['frame_encoder']))
  if scale == 0:
    assert max(encoder) == 0.0  # bit-identical
  else:  # Adam's first step moves each weight by about lr; scaled by 0.1 here
    np.testing.assert_allclose(max(encoder), 0.1 * max(encoder_full), rtol=1e-3)
  others = jax.tree.leaves(moved(state.params['decoder'], new_state.params['decoder']))
  others_full = jax.tree.leaves(moved(state.params['decoder'], reference.params['decoder']))
  np.testing.assert_allclose(max(others), max(others_full), rtol=1e-3)  # the rest trains at the full rate


def test_only_the_last_blocks_of_an_efficientnet_frame_encoder_train():
  encoder = EfficientNetLite(EfficientNetConfig('lite0'))
  image = jax.random.normal(jax.random.key(0), (1, 32, 32, 3))
  variables = encoder.init(jax.random.key(1), image)
  params = {'frame_encoder': variables['params'], 'head': {'kernel': jnp.ones(3)}}

  def loss(params):
    params = stop_frozen_gradients(params, 2)
    features = encoder.apply({'params': params['frame_encoder'], 'batch_stats': variables['batch_stats']}, image)
    return jnp.sum(features['layer3'] ** 2) * params['head']['kernel'][0]

  grads = jax.grad(loss)(params)
  optimizer = make_optimizer(1e-2, frame_encoder_lr_scale=0.1, frame_encoder_train_blocks=2)
  updates, _ = optimizer.update(grads, optimizer.init(params), params)
  largest = lambda tree: max(float(jnp.abs(leaf).max()) for leaf in jax.tree.leaves(tree))
  encoder_grads, encoder_updates = grads['frame_encoder'], updates['frame_encoder']
  trained = ('blocks_9', 'blocks_10')
  assert all(largest(encoder_grads[name]) > 0 for name in trained)
  assert all(largest(encoder_grads[name]) == 0 for name in encoder_grads if name not in trained)  # stem, blocks 0-8
  assert all(largest(encoder_updates[name]) == 0 for name in encoder_updates if name not in trained)
  np.testing.assert_allclose(largest(encoder_updates['blocks_10']), 1e-3, rtol=1e-3)  # Adam's first step, 0.1 x 1e-2
  np.testing.assert_allclose(largest(updates['head']), 1e-2, rtol=1e-3)  # the rest at the full rate
  with pytest.raises(ValueError, match='numbered blocks'):  # a ResNet encoder has none
    optimizer.init(_variables()['params'])


def test_loss_sums_frames_and_bootstraps_the_hardest_pixels():
  logits = jnp.zeros((1, 2, 3, 4, 4)).at[0, 0, 1, :2].set(5.0)  # frame 0: rows 0-1 confidently object 1
  labels = jnp.zeros((1, 2, 4, 4), jnp.int32).at[0, 0, :2].set(1).at[0, 1, 2:].set(1)  # frame 1: object missed
  uniform = np.log(3.0)  # cross-entropy of a uniform prediction
  confident = float(-jax.nn.log_softmax(jnp.array([0.0, 5.0, 0.0]))[1])
  plain = segmentation_loss(logits, labels)
  np.testing.assert_allclose(plain, (8 * confident + 8 * uniform) / 16 + uniform, rtol=1e-6)  # summed over frames
  hardest = segmentation_loss(logits, labels, bootstrap_fraction=0.5)  # the 8 worst pixels of each frame
  np.testing.assert_allclose(hardest, uniform + uniform, rtol=1e-6)
  halfway = segmentation_loss(logits, labels, bootstrap_fraction=0.5, bootstrap_weight=0.25)
  np.testing.assert_allclose(halfway, 0.75 * plain + 0.25 * hardest, rtol=1e-6)
  valid = jnp.array([[True, False]])
  np.testing.assert_allclose(mean_iou(logits, labels, valid), (1.0 + 0.0) / 2)  # frame 0 perfect, frame 1 missed
  empty = labels.at[0, 1].set(0)
  np.testing.assert_allclose(mean_iou(logits, empty, valid), 1.0)  # an empty union counts as 1


def test_bootstrap_ramp_moves_from_the_plain_loss_to_the_hardest_pixels():
  """With `bootstrap_ramp_steps`, the step's loss is the plain mean at step 0, the bootstrapped one from the end of
  the ramp on, and their mix in between."""
  optimizer = make_optimizer(0.0)
  state = create_train_state(_variables(), optimizer)
  batch = _batch(batch_size=2, frames=3)
  losses = {}
  for name, fraction, ramp in (('plain', 1.0, 0), ('hardest', 0.25, 0), ('ramp', 0.25, 8)):
    step = jax.jit(make_train_step(MODEL, optimizer, bootstrap_fraction=fraction, bootstrap_ramp_steps=ramp))
    losses[name] = [float(step(state.replace(step=jnp.asarray(s, state.step.dtype)), batch)[1]['loss'])
                    for s in (0, 2, 8, 20)]
  assert losses['hardest'][0] > losses['plain'][0] * 1.5, losses
  np.testing.assert_allclose(losses['ramp'][0], losses['plain'][0], rtol=1e-5)
  np.testing.assert_allclose(losses['ramp'][1], 0.75 * losses['plain'][1] + 0.25 * losses['hardest'][1], rtol=1e-5)
  np.testing.assert_allclose(losses['ramp'][2:], losses['hardest'][2:], rtol=1e-5)


def test_training_overfits_one_batch():
  """40 Adam steps on one batch lower its loss at least 4-fold and raise its IoU above 0.8 (a network that cannot
  fit a single batch has a broken gradient somewhere)."""
  optimizer = make_optimizer(3e-3)
  state = create_train_state(_variables(), optimizer)
  step = jax.jit(make_train_step(MODEL, optimizer))
  batch = _batch(batch_size=2, frames=3)
  _, first = step(state, batch)
  for _ in range(40):
    state, metrics = step(state, batch)
  assert float(metrics['loss']) < float(first['loss']) / 4, (float(first['loss']), float(metrics['loss']))
  assert float(metrics['iou']) > 0.8, float(metrics['iou'])


def test_four_devices_give_the_same_step_as_one():
  assert len(jax.devices()) == 4, 'tests/conftest.py asks for 4 virtual CPU devices'
  optimizer = make_optimizer(1e-3)
  step_fn = make_train_step(MODEL, optimizer)
  batch = _batch(batch_size=4)
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    mesh = data_mesh(devices)
    state = jax.device_put(create_train_state(_variables(), optimizer), replicated(mesh))
    sharded = jax.device_put(batch, batch_sharding(mesh))
    step = jax.jit(step_fn, in_shardings=(replicated(mesh), batch_sharding(mesh)),
                   out_shardings=(replicated(mesh), replicated(mesh)))
    new_state, metrics = step(state, sharded)
    assert new_state.params['key_proj']['kernel'].sharding.is_fully_replicated
    results.append((jax.device_get(new_state.params), float(metrics['loss'])))
  (one, loss_one), (four, loss_four) = results
  assert loss_one == pytest.approx(loss_four, rel=1e-5)
  for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(four)):
    # Adam's first step is lr * g / (|g| + eps): noise in a gradient near eps moves its weight by a different fraction
    # of lr (1e-3), up to 6.8e-5 measured on a 2-core AMD EPYC; a wrong reduction would move most weights by ~lr.
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1.5e-4)


def test_rematerialised_step_computes_the_same_update():
  optimizer = make_optimizer(1e-2)
  state = create_train_state(_variables(), optimizer)
  plain_state, plain_metrics = jax.jit(make_train_step(MODEL, optimizer))(state, _batch(batch_size=2, frames=4))
  remat_state, remat_metrics = jax.jit(make_train_step(MODEL, optimizer, remat=True))(
      state, _batch(batch_size=2, frames=4))
  np.testing.assert_allclose(remat_metrics['loss'], plain_metrics['loss'], rtol=1e-5)
  for plain, remat in zip(jax.tree.leaves(plain_state.params), jax.tree.leaves(remat_state.params)):
    np.testing.assert_allclose(remat, plain, atol=1e-5)
  assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params),
                                                       jax.tree.leaves(remat_state.params)))


def test_learning_rate_schedules():
  constant = learning_rate_schedule(1e-3)
  assert float(constant(0)) == float(constant(10_000)) == pytest.approx(1e-3)
  cosine = learning_rate_schedule(1e-3, 'cosine', num_steps=100, warmup_steps=10)
  assert float(cosine(0)) == 0.0 and float(cosine(10)) == pytest.approx(1e-3)
  assert float(cosine(55)) == pytest.approx(5e-4, rel=1e-3) and float(cosine(100)) == pytest.approx(0.0, abs=1e-9)
  with pytest.raises(ValueError, match='unknown learning-rate schedule'):
    learning_rate_schedule(1e-3, 'linear')
  # A constant rate and a schedule give optimiser states of one structure (a later stage can restore either).
  params = {'w': jnp.zeros(3)}
  assert (jax.tree.structure(make_optimizer(1e-3).init(params))
          == jax.tree.structure(make_optimizer(cosine).init(params)))
