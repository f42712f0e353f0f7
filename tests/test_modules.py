"""Shapes and defining properties of each module."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vosjax.models import ResNet, ResNetConfig, tiny_config
from vosjax.models.aggregation import soft_aggregate
from vosjax.models.channel_attention import ChannelAttention
from vosjax.models.decoder import Decoder, SkipProjection
from vosjax.models.mask_embedding import MaskEmbedding, history_channels, position_channels
from vosjax.models.mask_encoder import MaskEncoder


def _init_apply(module, *args):
  variables = module.init(jax.random.key(0), *args)
  return variables, module.apply(variables, *args)


def test_resnet_stage_shapes_round_up_like_torchvision():
  for config, channels in ((ResNetConfig('bottleneck', (1, 1, 1), (8, 16, 32), 16), (32, 64, 128)),
                           (ResNetConfig('basic', (1, 1, 1), (8, 16, 32), 8), (8, 16, 32))):
    _, out = _init_apply(ResNet(config), jnp.zeros((2, 241, 427, 3)))
    chex.assert_shape(out['stem'], (2, 121, 214, config.stem_width))
    chex.assert_shape(out['layer1'], (2, 61, 107, channels[0]))
    chex.assert_shape(out['layer2'], (2, 31, 54, channels[1]))
    chex.assert_shape(out['layer3'], (2, 16, 27, channels[2]))


def test_channel_attention_implements_eq_4_to_7():
  x = jax.random.normal(jax.random.key(1), (2, 1, 5, 7, 6))  # [B, K, H, W, C]
  variables, out = _init_apply(ChannelAttention(), x)
  chex.assert_shape(out, x.shape)
  alpha = jax.nn.softplus(variables['params']['alpha'])  # Eq. 7's alpha, kept non-negative
  f = np.asarray(x[0, 0]).reshape(35, 6)
  relation = f.T @ f / 35
  attention = np.exp(relation) / np.exp(relation).sum(0, keepdims=True)  # Eq. 5, normalised over i
  expected = float(alpha) * f @ attention + f
  np.testing.assert_allclose(np.asarray(out[0, 0]).reshape(35, 6), expected, rtol=1e-5, atol=1e-5)


def test_cosine_channel_attention_is_scale_and_resolution_free():
  x = jax.random.normal(jax.random.key(2), (1, 1, 4, 6, 5))
  module = ChannelAttention(similarity='cosine', temperature_init=10.0)
  variables, out = _init_apply(module, x)
  assert float(jnp.exp(variables['params']['log_temperature'])) == pytest.approx(10.0)
  f = np.asarray(x[0, 0]).reshape(24, 5)
  unit = f / np.linalg.norm(f, axis=0, keepdims=True)
  relation = 10.0 * unit.T @ unit
  attention = np.exp(relation) / np.exp(relation).sum(0, keepdims=True)
  alpha = float(jax.nn.softplus(variables['params']['alpha']))
  np.testing.assert_allclose(np.asarray(out[0, 0]).reshape(24, 5), alpha * f @ attention + f, rtol=1e-5, atol=1e-5)
  # Doubling every pixel (a 2x larger frame) or scaling the features leaves the attention as it is.
  bigger = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)
  attention_of = lambda y: module.apply(variables, y, mutable=['intermediates'])[1]['intermediates']['attention'][0]
  np.testing.assert_allclose(attention_of(bigger), attention_of(x), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(attention_of(3.0 * x), attention_of(x), rtol=1e-5, atol=1e-6)


def test_cosine_channel_attention_has_finite_gradients_for_an_all_zero_channel():
  # An absent object's read-out can be exactly zero (GAM's empty context): the cosine's norm must not give 0/0.
  x = jax.random.normal(jax.random.key(3), (1, 2, 4, 6, 5)).at[0, 1].set(0.0).at[0, 0, ..., 2].set(0.0)
  module = ChannelAttention(similarity='cosine')
  variables = module.init(jax.random.key(0), x)
  grads = jax.grad(lambda v, y: jnp.sum(module.apply(v, y) ** 2), argnums=(0, 1))(variables, x)
  assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(grads))


def test_mask_embedding_inputs_and_output_grid():
  positions = position_channels(5, 9)
  np.testing.assert_allclose(positions[0, 0], [-1, -1, 1], atol=1e-6)
  np.testing.assert_allclose(positions[2, 4], [0, 0, 0], atol=1e-6)  # the centre
  history = jnp.zeros((1, 3, 2, 33, 47)).at[:, :, 0, :10].set(1.0).at[:, :, 1, 20:].set(0.5)
  channels = history_channels(history, jnp.array([[True, True]]))
  chex.assert_shape(channels, (1, 2, 33, 47, 6))  # 3 past frames x (object, others)
  np.testing.assert_allclose(channels[0, 0, 25, 0], [0, 0.5] * 3)
  np.testing.assert_allclose(channels[0, 1, 5, 0], [0, 1] * 3)
  ignoring_second = history_channels(history, jnp.array([[True, False]]))
  np.testing.assert_allclose(ignoring_second[0, 0, 25, 0], [0, 0] * 3)  # invalid objects are not "others"
  _, out = _init_apply(MaskEmbedding((4, 8, 8, 16)), channels.reshape(2, 33, 47, 6))
  chex.assert_shape(out, (2, 3, 3, 16))  # ceil(33 / 16), ceil(47 / 16)


def test_decoder_and_skip_projection_shapes():
  skip8_variables, skip8 = _init_apply(SkipProjection(16), jnp.zeros((3, 9, 13, 64)))
  _, skip4 = _init_apply(SkipProjection(8), jnp.zeros((3, 17, 25, 32)))
  chex.assert_shape(skip8, (3, 9, 13, 16))
  _, logits = _init_apply(Decoder(32, (16, 8)), jnp.ones((3, 5, 7, 40)), skip8, skip4, 65, 97)
  chex.assert_shape(logits, (3, 65, 97))
  assert logits.dtype == jnp.float32


def test_matmul_resize_equals_jax_image_resize():
  from vosjax.models.decoder import resize_to
  x = jax.random.normal(jax.random.key(3), (2, 5, 7, 3))
  for height, width in ((20, 28), (17, 33), (5, 7), (65, 97)):
    expected = jax.image.resize(x, (2, height, width, 3), method='bilinear')
    np.testing.assert_allclose(resize_to(x, height, width), expected, atol=1e-5)


def test_mask_encoder_shapes():
  config = tiny_config()
  frame = jnp.zeros((2, 65, 97, 3))
  masks = jnp.zeros((2, 3, 65, 97))
  frame_features = jnp.zeros((2, 5, 7, 128))
  _, values = _init_apply(MaskEncoder(config), frame, masks, frame_features)
  chex.assert_shape(values, (2, 3, 5, 7, config.value_dim))


def test_soft_aggregation_is_a_distribution_that_ignores_padding():
  logits = jax.random.normal(jax.random.key(2), (2, 3, 4, 5)) * 3
  valid = jnp.array([[True, True, False], [True, False, False]])
  merged = soft_aggregate(logits, valid)
  chex.assert_shape(merged, (2, 4, 4, 5))
  probs = jax.nn.softmax(merged, axis=1)
  np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
  assert float(probs[0, 3].max()) < 1e-6 and float(probs[1, 2:].max()) < 1e-6
  # One object (STM's softmax over log-odds of p and 1 - p): p^2 / (p^2 + (1 - p)^2), same decision as p > 0.5.
  p = jax.nn.sigmoid(logits[1, 0])
  np.testing.assert_allclose(probs[1, 1], p**2 / (p**2 + (1 - p)**2), atol=1e-5)


# The per-frame shares of per-object work compute what the per-object concatenation computed.

@pytest.mark.parametrize('similarity', ['dot_mean', 'cosine'])
def test_channel_attention_with_shared_channels_equals_the_concatenation(similarity):
  own = jax.random.normal(jax.random.key(4), (2, 3, 4, 5, 6))  # [B, K, H, W, C_o]
  shared = jax.random.normal(jax.random.key(5), (2, 4, 5, 7))  # [B, H, W, C_s], the same for the K objects
  module = ChannelAttention(similarity=similarity)
  variables = module.init(jax.random.key(0), own, shared)
  out = module.apply(variables, own, shared)
  concatenated = jnp.concatenate([own, jnp.broadcast_to(shared[:, None], (2, 3, 4, 5, 7))], axis=-1)
  chex.assert_shape(out, concatenated.shape)
  np.testing.assert_allclose(out, module.apply(variables, concatenated), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('shared_first,objects', [(True, 3), (False, 3), (True, 1), (False, 1)])
def test_split_input_conv_equals_a_conv_over_the_concatenation(shared_first, objects):
  from vosjax.models.split_conv import SplitInputConv
  shared = jax.random.normal(jax.random.key(6), (2, 17, 23, 3))
  own = jax.random.normal(jax.random.key(7), (2, objects, 17, 23, 2))
  split = SplitInputConv(8, (7, 7), (2, 2), ((3, 3), (3, 3)), shared_first=shared_first)
  variables = split.init(jax.random.key(0), shared, own)
  broadcast = jnp.broadcast_to(shared[:, None], (2, objects, 17, 23, 3))
  concatenated = jnp.concatenate([broadcast, own] if shared_first else [own, broadcast], -1).reshape(
      2 * objects, 17, 23, 5)
  conv = nn.Conv(8, (7, 7), (2, 2), padding=((3, 3), (3, 3)))
  conv_variables = conv.init(jax.random.key(0), concatenated)
  chex.assert_trees_all_equal_shapes(variables, conv_variables)  # the same parameters: checkpoints still load
  expected = conv.apply(variables, concatenated).reshape(2, objects, 9, 12, 8)
  np.testing.assert_allclose(split.apply(variables, shared, own), expected, rtol=1e-5, atol=1e-5)


def test_decoder_adds_shared_skips_by_broadcasting():
  x = jax.random.normal(jax.random.key(8), (6, 5, 7, 40))  # B' = 2 frames x 3 objects
  skip8 = jax.random.normal(jax.random.key(9), (2, 9, 13, 16))
  skip4 = jax.random.normal(jax.random.key(10), (2, 17, 25, 8))
  decoder = Decoder(32, (16, 8))
  variables = decoder.init(jax.random.key(0), x, skip8, skip4, 65, 97)
  per_object = lambda skip: jnp.repeat(skip, 3, axis=0)
  np.testing.assert_allclose(decoder.apply(variables, x, skip8, skip4, 65, 97),
                             decoder.apply(variables, x, per_object(skip8), per_object(skip4), 65, 97), atol=1e-5)


def test_two_tap_resize_and_its_gradient_equal_the_interpolation_matrices():
  from vosjax.models.decoder import _interpolation_matrix, resize_to
  x = jax.random.normal(jax.random.key(11), (2, 5, 7, 3))
  for height, width in ((10, 14), (9, 13), (5, 7), (40, 56)):
    rows, cols = _interpolation_matrix(height, 5), _interpolation_matrix(width, 7)
    dense = lambda y: jnp.einsum('Hh,bhwc,Ww->bHWc', rows, y, cols)
    np.testing.assert_allclose(resize_to(x, height, width), dense(x), atol=1e-5)
    loss = lambda f: lambda y: jnp.sum(jnp.sin(f(y)))
    np.testing.assert_allclose(jax.grad(loss(lambda y: resize_to(y, height, width)))(x), jax.grad(loss(dense))(x),
                               atol=1e-5)


def test_mem_without_position_channels_has_a_narrower_first_conv():
  from vosjax.models import VOSNet, init_variables
  shapes = {}
  for use_position in (True, False):
    model = VOSNet(tiny_config(mem_position=use_position))
    variables = init_variables(model, seed=0)
    shapes[use_position] = variables['params']['mask_embedding']['conv0']['kernel'].shape
  assert shapes[True][2] == shapes[False][2] + 3  # the three position channels
