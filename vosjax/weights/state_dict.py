"""Reads a checkpoint's tensors into numpy without executing pickled code.

Formats:
* `.pth` / `.pt`: torch's zip serialisation (`torch.save` since torch 1.6). The pickle inside is read by an
  unpickler that only knows how to rebuild tensors and ordered dicts; any other global (the way a malicious pickle
  runs code) is refused with an error naming it. torch itself is not needed.
* `.npz`: numpy archives, keys as in the torch state dict.
* `.safetensors`.
"""

from __future__ import annotations

import collections
import os
import pickle
import zipfile

import ml_dtypes
import numpy as np

_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': ml_dtypes.bfloat16, 'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}


class CheckpointFormatError(ValueError):
  """A checkpoint file that cannot be read; the message names the file and the problem."""


class _StorageType:
  def __init__(self, dtype):
    self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, offset, size, stride, *unused):
  itemsize = storage.dtype.itemsize
  if not size:
    return storage[offset].copy().reshape(())
  view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                         strides=tuple(s * itemsize for s in stride))
  return np.array(view)


def _rebuild_parameter(tensor, *unused):
  return tensor


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles a torch state dict, refusing every global that is not a tensor/dict constructor."""

  def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str, byteorder: str):
    super().__init__(file)
    self._archive = archive
    self._prefix = prefix
    self._path = path
    self._byteorder = byteorder

  def find_class(self, module, name):
    if (module, name) == ('collections', 'OrderedDict'):
      return collections.OrderedDict
    if (module, name) in (('torch._utils', '_rebuild_tensor_v2'), ('torch._utils', '_rebuild_tensor')):
      return _rebuild_tensor
    if (module, name) == ('torch._utils', '_rebuild_parameter'):
      return _rebuild_parameter
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(_STORAGE_DTYPES[name])
    raise CheckpointFormatError(
        f'{self._path}: refusing to unpickle {module}.{name}; only tensors and dicts are read from a .pth file')

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise CheckpointFormatError(f'{self._path}: unknown persistent id {pid!r}')
    _, storage_type, key, _location, numel = pid
    if not isinstance(storage_type, _StorageType):
      raise CheckpointFormatError(f'{self._path}: unsupported storage type {storage_type!r}')
    data = self._archive.read(f'{self._prefix}/data/{key}')
    dtype = storage_type.dtype.newbyteorder('<' if self._byteorder == 'little' else '>')
    array = np.frombuffer(data, dtype=dtype)
    if array.size != numel:
      raise CheckpointFormatError(f'{self._path}: storage {key} holds {array.size} values, expected {numel}')
    return array.astype(storage_type.dtype.newbyteorder('='))


def _read_pth(path: str) -> dict:
  if not zipfile.is_zipfile(path):
    raise CheckpointFormatError(
        f'{path}: not a zip-format torch checkpoint (saved by torch < 1.6?). Re-save it with a current torch, '
        'or convert it to .npz or .safetensors')
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pickles) != 1:
      raise CheckpointFormatError(f'{path}: expected one data.pkl in the archive, found {pickles}')
    prefix = pickles[0][:-len('/data.pkl')] if '/' in pickles[0] else ''
    byteorder_name = f'{prefix}/byteorder' if prefix else 'byteorder'
    byteorder = archive.read(byteorder_name).decode() if byteorder_name in archive.namelist() else 'little'
    with archive.open(pickles[0]) as f:
      obj = _RestrictedUnpickler(f, archive, prefix, path, byteorder).load()
  if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
    obj = obj['state_dict']
  if not isinstance(obj, dict):
    raise CheckpointFormatError(f'{path}: expected a state dict, found {type(obj).__name__}')
  return obj


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads a torch-style state dict {name: array} from .pth/.pt, .npz or .safetensors."""
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path}: no such checkpoint file')
  suffix = os.path.splitext(path)[1].lower()
  if suffix in ('.pth', '.pt'):
    state = _read_pth(path)
  elif suffix == '.npz':
    with np.load(path, allow_pickle=False) as archive:
      state = {k: archive[k] for k in archive.files}
  elif suffix == '.safetensors':
    from safetensors.numpy import load_file
    state = load_file(path)
  else:
    raise CheckpointFormatError(f'{path}: unknown checkpoint format {suffix!r} (use .pth, .pt, .npz or .safetensors)')
  # DataParallel checkpoints prefix every key with 'module.'.
  if state and all(k.startswith('module.') for k in state):
    state = {k[len('module.'):]: v for k, v in state.items()}
  return {k: np.asarray(v) for k, v in state.items()}
