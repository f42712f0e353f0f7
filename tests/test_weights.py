"""ImageNet weight conversion: a torch ResNet written here, random weights and BN statistics, converted, compared."""

import collections
import io
import os
import pickle
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')
nn = torch.nn

from vosjax.models import ResNet, ResNetConfig, VOSNet, init_variables, tiny_config  # noqa: E402
from vosjax.weights import (CheckpointFormatError, WeightConversionError, load_imagenet_encoders,  # noqa: E402
                            load_state_dict)


# ------------------------------------------------------------------- a torchvision-layout reference, written here
class TorchBasic(nn.Module):
  expansion = 1

  def __init__(self, inplanes, planes, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.downsample = None
    if stride != 1 or inplanes != planes:
      self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class TorchBottleneck(nn.Module):
  expansion = 4

  def __init__(self, inplanes, planes, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(planes * 4)
    self.downsample = None
    if stride != 1 or inplanes != planes * 4:
      self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                      nn.BatchNorm2d(planes * 4))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = torch.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class TorchResNet(nn.Module):
  """torchvision's ResNet layout, all four stages and the classifier, so that the checkpoint is complete."""

  def __init__(self, block, depths):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    self.bn1 = nn.BatchNorm2d(64)
    self.maxpool = nn.MaxPool2d(3, 2, 1)
    inplanes = 64
    for index, (depth, planes) in enumerate(zip(depths, (64, 128, 256, 512))):
      blocks = []
      for b in range(depth):
        blocks.append(block(inplanes, planes, 2 if (index > 0 and b == 0) else 1))
        inplanes = planes * block.expansion
      setattr(self, f'layer{index + 1}', nn.Sequential(*blocks))
    self.fc = nn.Linear(inplanes, 1000)

  def stages(self, x):
    out = {}
    x = torch.relu(self.bn1(self.conv1(x)))
    out['stem'] = x
    x = self.maxpool(x)
    for name in ('layer1', 'layer2', 'layer3'):
      x = getattr(self, name)(x)
      out[name] = x
    return out


def _randomise(model, seed):
  """Random weights and BN statistics. The last BN of each residual branch gets a small scale (as ImageNet-trained
  networks have), so that activations stay O(1-10) through 13 blocks and an absolute tolerance is meaningful."""
  generator = torch.Generator().manual_seed(seed)
  last_bn = 'bn3' if isinstance(model.layer1[0], TorchBottleneck) else 'bn2'
  with torch.no_grad():
    for name, tensor in model.state_dict().items():
      if name.endswith('num_batches_tracked'):
        continue
      if name.endswith('running_var'):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
      elif name.endswith('running_mean'):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
      elif name.startswith('layer') and name.endswith(f'{last_bn}.weight'):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.2 + 0.1)
      elif name.endswith('bn1.weight') or '.bn' in name or 'downsample.1' in name:
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.5)
      elif name.endswith('.bias'):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
      else:
        fan_in = tensor[0].numel() if tensor.ndim > 1 else 1
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
  return model.eval()


@pytest.fixture(scope='module')
def torch_resnets(tmp_path_factory):
  torch.manual_seed(0)
  folder = tmp_path_factory.mktemp('weights')
  r50 = _randomise(TorchResNet(TorchBottleneck, (3, 4, 6, 3)), 1)
  r18 = _randomise(TorchResNet(TorchBasic, (2, 2, 2, 2)), 2)
  paths = {'r50': folder / 'resnet50.pth', 'r18': folder / 'resnet18.pth'}
  torch.save(r50.state_dict(), paths['r50'])
  torch.save(r18.state_dict(), paths['r18'])
  return r50, r18, paths


def _stage_outputs_agree(torch_model, flax_config, variables, image):
  with torch.no_grad():
    expected = torch_model.stages(torch.from_numpy(image.transpose(0, 3, 1, 2)))
  got = jax.jit(ResNet(flax_config).apply)(variables, jnp.asarray(image))
  for name, value in expected.items():
    value = value.numpy().transpose(0, 2, 3, 1)
    assert got[name].shape == value.shape, name
    assert np.abs(value).max() > 1.0, name  # the comparison is not between near-zero maps
    np.testing.assert_allclose(np.asarray(got[name]), value, atol=1e-4, rtol=0, err_msg=name)


def test_resnet50_and_resnet18_match_torch_at_odd_size(torch_resnets):
  r50, r18, paths = torch_resnets
  image = np.random.RandomState(0).randn(1, 241, 427, 3).astype(np.float32)
  model = VOSNet(tiny_config(frame_encoder=ResNetConfig(), mask_encoder=ResNetConfig('basic', (2, 2, 2)),
                             mask_encoder_rgb=True))
  shapes = jax.eval_shape(lambda: init_variables(model))
  variables = load_imagenet_encoders(shapes, paths['r50'], paths['r18'])
  frame_vars = {c: variables[c]['frame_encoder'] for c in ('params', 'batch_stats')}
  _stage_outputs_agree(r50, ResNetConfig(), frame_vars, image)
  # The mask encoder's conv1 takes RGB + 2 mask channels: with empty masks it must behave as the ImageNet ResNet-18.
  mask_vars = {c: variables[c]['mask_encoder']['resnet'] for c in ('params', 'batch_stats')}
  kernel = mask_vars['params']['conv1']['kernel']
  assert kernel.shape == (7, 7, 5, 64)
  assert np.all(kernel[:, :, 3:] == 0)
  rgb_only = {'params': dict(mask_vars['params'], conv1={'kernel': kernel[:, :, :3]}),
              'batch_stats': mask_vars['batch_stats']}
  _stage_outputs_agree(r18, ResNetConfig('basic', (2, 2, 2)), rgb_only, image)
  with_masks = np.concatenate([image, np.zeros(image.shape[:3] + (2,), np.float32)], -1)
  full = jax.jit(ResNet(ResNetConfig('basic', (2, 2, 2))).apply)(mask_vars, jnp.asarray(with_masks))
  with torch.no_grad():
    expected = r18.stages(torch.from_numpy(image.transpose(0, 3, 1, 2)))['layer3'].numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(np.asarray(full['layer3']), expected, atol=1e-4, rtol=0)


def test_npz_and_safetensors_give_the_same_arrays(torch_resnets, tmp_path):
  from safetensors.numpy import save_file
  _, r18, paths = torch_resnets
  reference = {k: v.numpy() for k, v in r18.state_dict().items()}
  from_pth = load_state_dict(paths['r18'])
  np.savez(tmp_path / 'r18.npz', **reference)
  save_file({k: np.ascontiguousarray(v) for k, v in reference.items()}, str(tmp_path / 'r18.safetensors'))
  for loaded in (from_pth, load_state_dict(tmp_path / 'r18.npz'), load_state_dict(tmp_path / 'r18.safetensors')):
    assert loaded.keys() == reference.keys()
    for key, value in reference.items():
      np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_strict_key_check_names_missing_and_unexpected_keys(torch_resnets, tmp_path):
  _, r18, _ = torch_resnets
  state = {k: v.numpy() for k, v in r18.state_dict().items()}
  del state['layer2.1.bn2.running_var']
  state['layer2.1.extra.weight'] = np.zeros(3, np.float32)
  np.savez(tmp_path / 'broken.npz', **state)
  model = VOSNet(tiny_config(mask_encoder=ResNetConfig('basic', (2, 2, 2))))
  shapes = jax.eval_shape(lambda: init_variables(model))
  with pytest.raises(WeightConversionError) as error:
    load_imagenet_encoders(shapes, mask_encoder_path=tmp_path / 'broken.npz')
  message = str(error.value)
  assert 'broken.npz' in message
  assert 'layer2.1.bn2.running_var' in message and 'layer2.1.extra.weight' in message


def test_wrong_depth_is_refused(torch_resnets):
  _, _, paths = torch_resnets
  model = VOSNet(tiny_config(frame_encoder=ResNetConfig()))
  shapes = jax.eval_shape(lambda: init_variables(model))
  with pytest.raises(WeightConversionError, match='resnet18.pth'):
    load_imagenet_encoders(shapes, frame_encoder_path=paths['r18'])  # a ResNet-18 where a ResNet-50 is needed


def test_pickle_with_code_is_refused(tmp_path):
  class Payload:
    def __reduce__(self):
      return (os.system, ('echo pwned',))

  path = tmp_path / 'evil.pth'
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('evil/data.pkl', pickle.dumps({'conv1.weight': Payload()}))
  with pytest.raises(CheckpointFormatError, match='refusing to unpickle'):
    load_state_dict(path)


def test_unknown_format_and_missing_file():
  with pytest.raises(FileNotFoundError, match='nowhere.pth'):
    load_state_dict('/nowhere.pth')
  with pytest.raises(CheckpointFormatError, match='unknown checkpoint format'):
    load_state_dict(__file__)


class _StoragePickler(pickle.Pickler):
  """Pickles like torch.save's data.pkl: storages as persistent ids, tensors via torch._utils._rebuild_tensor_v2."""

  def persistent_id(self, obj):
    if isinstance(obj, _Storage):
      return ('storage', torch.FloatStorage, obj.key, 'cpu', obj.numel)
    return None


class _Storage:
  def __init__(self, key, numel):
    self.key, self.numel = key, numel


class _Tensor:
  def __init__(self, storage, offset, size, stride):
    self.args = (storage, offset, size, stride, False, collections.OrderedDict())

  def __reduce__(self):
    return (torch._utils._rebuild_tensor_v2, self.args)


def _crafted_pth(path, offset, size, stride, stored_floats=1):
  buffer = io.BytesIO()
  _StoragePickler(buffer, protocol=2).dump({'w': _Tensor(_Storage('0', stored_floats), offset, size, stride)})
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('crafted/data.pkl', buffer.getvalue())
    archive.writestr('crafted/data/0', np.arange(stored_floats, dtype='<f4').tobytes())
    archive.writestr('crafted/byteorder', 'little')
  return path


@pytest.mark.parametrize('offset,size,stride', [(0, (64,), (1,)), (10**8, (1,), (1,)), (0, (2,), (2**30,)),
                                                (-1, (1,), (1,))])
def test_tensor_layouts_reaching_outside_their_storage_are_refused(tmp_path, offset, size, stride):
  path = _crafted_pth(tmp_path / 'crafted.pth', offset, size, stride)
  with pytest.raises(CheckpointFormatError, match='crafted.pth'):
    load_state_dict(path)


def test_a_valid_crafted_layout_reads_back(tmp_path):
  path = _crafted_pth(tmp_path / 'ok.pth', 1, (2, 2), (1, 2), stored_floats=6)
  np.testing.assert_array_equal(load_state_dict(path)['w'], [[1, 3], [2, 4]])


def test_non_contiguous_offset_and_shared_storage_tensors(tmp_path):
  base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
  state = {'transposed': base.t(), 'sliced': base[1:, 2:5], 'shared_a': base[0], 'shared_b': base[3],
           'expanded': torch.ones(3).expand(2, 3), 'scalar': torch.tensor(7.0), 'half': base.half()[:2]}
  torch.save(state, tmp_path / 'layouts.pth')
  loaded = load_state_dict(tmp_path / 'layouts.pth')
  for key, value in state.items():
    np.testing.assert_array_equal(loaded[key], value.numpy(), err_msg=key)


def test_missing_storage_entry_names_the_file(tmp_path):
  path = _crafted_pth(tmp_path / 'missing.pth', 0, (1,), (1,))
  with zipfile.ZipFile(path) as archive:
    entries = {n: archive.read(n) for n in archive.namelist() if not n.endswith('data/0')}
  with zipfile.ZipFile(path, 'w') as archive:
    for name, data in entries.items():
      archive.writestr(name, data)
  with pytest.raises(CheckpointFormatError, match=r'missing.pth: the archive has no storage crafted/data/0'):
    load_state_dict(path)
