"""Reads a checkpoint's tensors into numpy without executing pickled code.

Formats:
* `.pth` / `.pt`: torch's zip serialisation (`torch.save` since torch 1.6), or its legacy one (a stream of pickles
  followed by the raw storages, `torch.save` before 1.6 or with `_use_new_zipfile_serialization=False`). The pickles
  are read by an unpickler that only knows how to rebuild tensors and ordered dicts; any other global (the way a
  malicious pickle runs code) is refused with an error naming it. torch itself is not needed.
* `.npz`: numpy archives, keys as in the torch state dict.
* `.safetensors`.
"""

from __future__ import annotations

import collections
import functools
import os
import pickle
import zipfile

import ml_dtypes
import numpy as np

from vosjax.errors import UserError
from vosjax.weights.packaged import WeightsNotFoundError

_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': ml_dtypes.bfloat16, 'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}


class CheckpointFormatError(UserError, ValueError):
  """A checkpoint file that cannot be read; the message names the file and the problem."""


class _StorageType:
  def __init__(self, dtype):
    self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, offset, size, stride, *unused, copy=True):
  """A tensor view of a storage, after checking that the view stays inside the storage (a crafted file could
  otherwise make `as_strided` read outside it). `copy=False` returns the view itself (legacy files: the storage
  is filled in after the pickle is read)."""
  if not isinstance(storage, np.ndarray) or storage.ndim != 1:
    raise CheckpointFormatError(f'a tensor is built on {type(storage).__name__}, not on a storage')
  size, stride = tuple(size), tuple(stride)
  integers = all(isinstance(v, int) and not isinstance(v, bool) for v in (offset,) + size + stride)
  if not integers or len(size) != len(stride) or offset < 0 or any(v < 0 for v in size + stride):
    raise CheckpointFormatError(f'a tensor has an invalid layout: offset {offset!r}, size {size!r}, stride {stride!r}')
  if 0 in size:
    return np.zeros(size, storage.dtype)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= storage.size:
    raise CheckpointFormatError(f'a tensor of size {size} with stride {stride} at offset {offset} reaches element '
                                f'{last} of a storage of {storage.size} elements')
  itemsize = storage.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=tuple(s * itemsize for s in stride))
  return np.array(view) if copy else view


def _rebuild_parameter(tensor, *unused):
  return tensor


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles a torch state dict, refusing every global that is not a tensor/dict constructor.

  With an `archive` (zip format) each storage is read from it when the pickle names it; without one (legacy
  format) each storage is an empty array that `_read_legacy_pth` fills from the stream after the pickle.
  """

  def __init__(self, file, archive: zipfile.ZipFile | None, prefix: str, path: str, byteorder: str):
    super().__init__(file)
    self._archive = archive
    self._prefix = prefix
    self._path = path
    self._byteorder = byteorder
    self._storages: dict[str, np.ndarray] = {}  # tensors may share a storage; read each once

  @property
  def storages(self) -> dict[str, np.ndarray]:
    return self._storages

  def find_class(self, module, name):
    if (module, name) == ('collections', 'OrderedDict'):
      return collections.OrderedDict
    if (module, name) in (('torch._utils', '_rebuild_tensor_v2'), ('torch._utils', '_rebuild_tensor')):
      return _rebuild_tensor if self._archive is not None else functools.partial(_rebuild_tensor, copy=False)
    if (module, name) == ('torch._utils', '_rebuild_parameter'):
      return _rebuild_parameter
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(_STORAGE_DTYPES[name])
    raise CheckpointFormatError(
        f'{self._path}: refusing to unpickle {module}.{name}; only tensors and dicts are read from a .pth file')

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise CheckpointFormatError(f'{self._path}: unknown persistent id {pid!r}')
    if len(pid) == 6:  # legacy: ('storage', type, key, location, numel, view_metadata)
      if pid[5] is not None:
        raise CheckpointFormatError(f'{self._path}: storage views of the legacy format are not supported')
      pid = pid[:5]
    if len(pid) != 5:
      raise CheckpointFormatError(f'{self._path}: unknown persistent id {pid!r}')
    _, storage_type, key, _location, numel = pid
    if not isinstance(storage_type, _StorageType):
      raise CheckpointFormatError(f'{self._path}: unsupported storage type {storage_type!r}')
    if key in self._storages:
      return self._storages[key]
    if self._archive is None:
      if not isinstance(numel, int) or numel < 0:
        raise CheckpointFormatError(f'{self._path}: storage {key!r} has an invalid size {numel!r}')
      self._storages[key] = np.zeros(numel, storage_type.dtype)
      return self._storages[key]
    name = f'{self._prefix}/data/{key}' if self._prefix else f'data/{key}'
    try:
      data = self._archive.read(name)
    except KeyError:
      raise CheckpointFormatError(f'{self._path}: the archive has no storage {name}') from None
    dtype = storage_type.dtype.newbyteorder('<' if self._byteorder == 'little' else '>')
    if len(data) % dtype.itemsize:
      raise CheckpointFormatError(f'{self._path}: storage {name} has {len(data)} bytes, not a whole number of '
                                  f'{dtype.name} values')
    array = np.frombuffer(data, dtype=dtype)
    if array.size != numel:
      raise CheckpointFormatError(f'{self._path}: storage {key} holds {array.size} values, expected {numel}')
    self._storages[key] = array.astype(storage_type.dtype.newbyteorder('='))
    return self._storages[key]


_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c  # torch's legacy serialisation starts with this pickled number


class _PlainUnpickler(pickle.Unpickler):
  """The legacy header's pickles hold only numbers, strings and dicts: any global is refused."""

  def find_class(self, module, name):
    raise pickle.UnpicklingError(f'refusing to unpickle {module}.{name}')


def _read_legacy_pth(path: str) -> object:
  """torch's pre-zip format: magic number, protocol, system info, the object, storage keys, then each storage as
  an int64 element count and its raw bytes."""
  with open(path, 'rb') as f:
    try:
      header = [_PlainUnpickler(f).load() for _ in range(3)]
      if header[0] != _LEGACY_MAGIC:
        raise CheckpointFormatError(
            f'{path}: not a torch checkpoint (neither a zip archive nor the legacy format); convert it to .npz or '
            '.safetensors')
      if header[1] != 1001 or not isinstance(header[2], dict):
        raise CheckpointFormatError(f'{path}: unsupported legacy torch protocol {header[1]!r}')
      byteorder = 'little' if header[2].get('little_endian', True) else 'big'
      unpickler = _RestrictedUnpickler(f, None, '', path, byteorder)
      obj = unpickler.load()
      keys = _PlainUnpickler(f).load()
    except CheckpointFormatError as error:
      message = str(error)
      raise CheckpointFormatError(message if message.startswith(path) else f'{path}: {message}') from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, IndexError) as error:
      raise CheckpointFormatError(f'{path}: corrupt legacy checkpoint ({error!r})') from None
    order = '<' if byteorder == 'little' else '>'
    storages = unpickler.storages
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(map(str, storages)):
      raise CheckpointFormatError(f'{path}: the legacy storage list does not match the tensors it holds')
    for key in keys:
      storage = storages[key]
      count = np.frombuffer(f.read(8), dtype=f'{order}i8')
      if count.size != 1 or int(count[0]) != storage.size:
        raise CheckpointFormatError(f'{path}: storage {key} is cut short or has the wrong size')
      data = f.read(storage.size * storage.dtype.itemsize)
      if len(data) != storage.size * storage.dtype.itemsize:
        raise CheckpointFormatError(f'{path}: storage {key} is cut short ({len(data)} bytes)')
      storage[:] = np.frombuffer(data, dtype=storage.dtype.newbyteorder(order))
  # The tensors are views of the storages filled above: copy them out.
  copy = lambda node: ({k: copy(v) for k, v in node.items()} if isinstance(node, dict)
                       else np.array(node) if isinstance(node, np.ndarray) else node)
  return copy(obj)


def _read_pth(path: str) -> dict:
  if not zipfile.is_zipfile(path):
    obj = _read_legacy_pth(path)
  else:
    obj = _read_zip_pth(path)
  if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
    obj = obj['state_dict']
  if not isinstance(obj, dict):
    raise CheckpointFormatError(f'{path}: expected a state dict, found {type(obj).__name__}')
  return obj


def _read_zip_pth(path: str) -> object:
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pickles) != 1:
      raise CheckpointFormatError(f'{path}: expected one data.pkl in the archive, found {pickles}')
    prefix = pickles[0][:-len('/data.pkl')] if '/' in pickles[0] else ''
    byteorder_name = f'{prefix}/byteorder' if prefix else 'byteorder'
    byteorder = archive.read(byteorder_name).decode() if byteorder_name in archive.namelist() else 'little'
    with archive.open(pickles[0]) as f:
      try:
        obj = _RestrictedUnpickler(f, archive, prefix, path, byteorder).load()
      except CheckpointFormatError as error:
        message = str(error)
        raise CheckpointFormatError(message if message.startswith(path) else f'{path}: {message}') from None
      except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as error:
        raise CheckpointFormatError(f'{path}: corrupt checkpoint pickle ({error!r})') from None
  return obj


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads a torch-style state dict {name: array} from .pth/.pt, .npz or .safetensors."""
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise WeightsNotFoundError(f'{path}: no such checkpoint file')
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
