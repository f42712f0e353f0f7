"""Running an exported tracker (`vosjax.export.writer`) with numpy and jax alone: no vosjax model code, no Flax.

  tracker = ExportedTracker('artifact/')
  for ids in tracker.segment(frames, first_ids):  # [H, W] uint8 object ids per frame
    ...

or frame by frame: `state = tracker.start(frame, masks, valid)`, then `state, probs, labels = tracker.step(state,
frame)`. The artifact is checked when it is opened (`artifact_format.read_manifest`: format, version, every file's
sha256) and every input is checked against the frame size and object slots it was exported for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import jax
import jax.export
import numpy as np

from vosjax.export.artifact_format import (START_FILE, STEP_FILE, WEIGHTS_FILE, ExportArtifactError, read_manifest)

VOID_ID = 255


class ExportedTracker:
  """An exported tracker, ready to run on this machine's default device.

  Attributes:
    directory: the artifact folder.
    manifest: its manifest.json (checked).
    height, width: the frame size it accepts.
    objects: K, its object slots.
  """

  def __init__(self, artifact_dir: str | Path):
    self.directory = Path(artifact_dir)
    self.manifest = read_manifest(self.directory)
    try:
      self.height, self.width, self.objects = (int(self.manifest[k]) for k in ('height', 'width', 'objects'))
      self._weight_specs = [(leaf['key'], leaf['name'], tuple(leaf['shape']), str(leaf['dtype']))
                            for leaf in self.manifest['weights']['leaves']]
      self._state_specs = [(tuple(leaf['shape']), str(leaf['dtype'])) for leaf in self.manifest['state']['leaves']]
      self.platforms = tuple(self.manifest['platforms'])
      created_with = self.manifest.get('created_with', {}).get('jax')
    except (KeyError, TypeError, ValueError) as error:
      raise ExportArtifactError(f'{self.directory / "manifest.json"}: a field is missing or malformed ({error!r}); '
                                'the manifest is damaged') from None
    self._start_exported = self._deserialize(START_FILE, created_with)
    self._step_exported = self._deserialize(STEP_FILE, created_with)
    self._check_signatures()
    self._check_platform()
    self._weights = jax.device_put(self._load_weights())
    self._start_call = jax.jit(self._start_exported.call)
    self._step_call = jax.jit(self._step_exported.call)

  # ------------------------------------------------------------------------------------------------------ opening
  def _deserialize(self, name: str, created_with: str | None) -> jax.export.Exported:
    path = self.directory / name
    try:
      return jax.export.deserialize(bytearray(path.read_bytes()))
    except ImportError as error:  # jax reads the modules with the optional flatbuffers package
      raise ExportArtifactError(f'{path}: jax.export cannot deserialize here ({error})') from None
    except Exception as error:  # noqa: BLE001 (flatbuffers and MLIR raise many types on bad bytes)
      raise ExportArtifactError(f'{path}: cannot be deserialized by jax {jax.__version__} (written with jax '
                                f'{created_with}): {type(error).__name__}: {error}') from None

  def _check_signatures(self) -> None:
    """The modules' argument and result shapes are the ones the manifest describes."""
    weights = [(shape, dtype) for _, _, shape, dtype in self._weight_specs]
    frame = ((self.height, self.width, 3), 'uint8')
    start_in = weights + [frame, ((self.objects, self.height, self.width), 'float32'), ((self.objects,), 'bool')]
    step_in = weights + self._state_specs + [frame]
    step_out = self._state_specs + [((self.objects + 1, self.height, self.width), 'float32'),
                                    ((self.height, self.width), 'uint8')]
    for name, avals, expected in ((START_FILE, self._start_exported.in_avals, start_in),
                                  (START_FILE, self._start_exported.out_avals, self._state_specs),
                                  (STEP_FILE, self._step_exported.in_avals, step_in),
                                  (STEP_FILE, self._step_exported.out_avals, step_out)):
      got = [(tuple(aval.shape), str(np.dtype(aval.dtype))) for aval in avals]
      if got != expected:
        raise ExportArtifactError(f'{self.directory / name}: its arguments or results differ from what manifest.json '
                                  'describes; the artifact is inconsistent (export it again)')

  def _check_platform(self) -> None:
    here = jax.default_backend()
    accepted = ('cuda', 'rocm') if here == 'gpu' else (here,)
    if not set(accepted) & set(self.platforms):
      name = accepted[0]
      raise ExportArtifactError(f'{self.directory}: exported for {", ".join(self.platforms)}, but jax runs on {name} '
                                f'here; export it again with --platforms {",".join(self.platforms + (name,))}')

  def _load_weights(self) -> list[np.ndarray]:
    path = self.directory / WEIGHTS_FILE
    try:
      with np.load(path, allow_pickle=False) as archive:
        weights = []
        for key, name, shape, dtype in self._weight_specs:
          if key not in archive.files:
            raise ExportArtifactError(f'{path}: no array {key} ({name}); the weights do not match manifest.json')
          array = archive[key]
          if array.shape != shape or str(array.dtype) != dtype:
            raise ExportArtifactError(f'{path}: {key} ({name}) is {array.shape} {array.dtype}, manifest.json says '
                                      f'{shape} {dtype}')
          weights.append(array)
        return weights
    except (OSError, ValueError) as error:
      if isinstance(error, ExportArtifactError):
        raise
      raise ExportArtifactError(f'{path}: not a readable weights archive ({error})') from None

  # ------------------------------------------------------------------------------------------------------ running
  def start(self, frame, masks, valid=None) -> tuple[jax.Array, ...]:
    """Starts tracking from a reference frame.

    Args:
      frame: [H, W, 3] uint8 RGB.
      masks: [K, H, W] float (0/1 or soft) or bool, one mask per object slot.
      valid: [K] bool, the slots in use (default: the slots whose mask is not empty).

    Returns:
      The state: a tuple of device arrays (the manifest's state.leaves), for `step`.
    """
    frame = self._checked('frame', frame, (self.height, self.width, 3), ('uint8',))
    masks = self._checked('masks', masks, (self.objects, self.height, self.width),
                          ('float32', 'float64', 'float16', 'bool')).astype(np.float32)
    if valid is None:
      valid = np.asarray(masks).reshape(self.objects, -1).max(axis=1) > 0
    valid = self._checked('valid', valid, (self.objects,), ('bool',))
    return tuple(self._start_call(*self._weights, frame, masks, valid))

  def step(self, state: tuple, frame) -> tuple[tuple[jax.Array, ...], jax.Array, jax.Array]:
    """Segments one frame and memorises it.

    Args:
      state: what `start` or the previous `step` returned.
      frame: [H, W, 3] uint8 RGB.

    Returns:
      (the new state, probs [K + 1, H, W] float32 (channel 0: background), labels [H, W] uint8 (0 background,
      k = slot k - 1)), as device arrays: `np.asarray` fetches them.
    """
    frame = self._checked('frame', frame, (self.height, self.width, 3), ('uint8',))
    state = tuple(state)
    got = [(tuple(np.shape(leaf)), str(np.dtype(leaf.dtype))) for leaf in state]
    if got != self._state_specs:
      raise ExportArtifactError(f'state: expected the {len(self._state_specs)} arrays that start/step return '
                                f'({self._state_specs}), got {got}')
    outputs = self._step_call(*self._weights, *state, frame)
    return tuple(outputs[:-2]), outputs[-2], outputs[-1]

  def segment(self, frames: Iterable, first_ids) -> Iterator[np.ndarray]:
    """Yields [H, W] uint8 object ids for every frame in order; the first frame's output is its mask.

    Args:
      frames: [H, W, 3] uint8 RGB frames in time order.
      first_ids: [H, W] integer object ids of the first frame (0 background, 255 void, read as background); its
        objects take the slots in increasing id order.

    One frame is in flight: frame t + 1's step is dispatched before frame t's labels are fetched.
    """
    first_ids = np.asarray(first_ids)
    if first_ids.shape != (self.height, self.width) or not np.issubdtype(first_ids.dtype, np.integer):
      raise ExportArtifactError(f'first_ids: expected an integer id map of shape {(self.height, self.width)}, got '
                                f'{first_ids.shape} {first_ids.dtype}')
    first_ids = np.where(first_ids == VOID_ID, 0, first_ids)
    object_ids = [int(i) for i in np.unique(first_ids) if i != 0]
    if not object_ids:
      raise ExportArtifactError('first_ids: holds no object (every pixel is background 0 or void 255)')
    if len(object_ids) > self.objects or max(object_ids) > 255:
      raise ExportArtifactError(f'first_ids: {len(object_ids)} objects (ids {object_ids}) but {self.directory} was '
                                f'exported for {self.objects} object slots of ids up to 255; export it again with '
                                f'--objects {len(object_ids)}')
    masks = np.zeros((self.objects, self.height, self.width), np.float32)
    for slot, object_id in enumerate(object_ids):
      masks[slot] = first_ids == object_id
    lookup = np.zeros(256, np.uint8)
    lookup[1:len(object_ids) + 1] = object_ids
    state, pending = None, None
    for frame in frames:
      if state is None:
        state = self.start(frame, masks, np.arange(self.objects) < len(object_ids))
        yield first_ids.astype(np.uint8)
        continue
      state, _, labels = self.step(state, frame)
      if pending is not None:
        yield lookup[np.asarray(pending)]
      pending = labels
    if pending is not None:
      yield lookup[np.asarray(pending)]

  # ------------------------------------------------------------------------------------------------------ helpers
  def _checked(self, name: str, value, shape: tuple[int, ...], dtypes: tuple[str, ...]):
    """`value` (a jax or numpy array, or array-like) if its shape and dtype are the artifact's, else an error."""
    array = value if isinstance(value, (jax.Array, np.ndarray)) else np.asarray(value)
    if tuple(array.shape) != shape or str(np.dtype(array.dtype)) not in dtypes:
      raise ExportArtifactError(f'{name}: expected shape {shape} {" or ".join(dtypes)}, got {tuple(array.shape)} '
                                f'{np.dtype(array.dtype)}; {self.directory} was exported for '
                                f'{self.width}x{self.height} (WxH) frames and {self.objects} object slots')
    return array
