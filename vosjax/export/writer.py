"""Exporting a network's per-frame tracker as `jax.export` modules that run without vosjax's model code.

Networks whose state has a fixed size export (GAM, or a memory bank with `memory_recent`; see
`vosjax.inference.memory_policy`); the exported step stores every frame, and a memory bank decides inside the network
which frames its ring keeps, as the engine's does.

Two functions are exported for one frame size H x W and K object slots, both taking raw uint8 frames (the engine's
normalisation, internal resolution and stride padding happen inside, `vosjax.inference.resolution`):

* start: (weights..., frame [H, W, 3] uint8, masks [K, H, W] float32, valid [K] bool) -> (state...)
* step: (weights..., state..., frame [H, W, 3] uint8) -> (state..., probs [K + 1, H, W] float32, labels [H, W] uint8)

Weights and state travel as flat tuples of arrays (the leaves of `jax.tree.flatten`), so no pytree type of the
network needs serializing; the weights are arguments, not constants, and live in `weights.npz`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.files.atomic_write import atomic_path, write_bytes
import vosjax
from vosjax.export.artifact_format import (FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, START_FILE, STEP_FILE,
                                           WEIGHTS_FILE, ExportArtifactError, file_records)
from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.inference.resolution import FrameGeometry, network_frame, network_masks, original_probabilities
from vosjax.models import VOSNet

KNOWN_PLATFORMS = ('cpu', 'cuda', 'rocm', 'tpu')


def export_tracker(model: VOSNet, variables: dict, out_dir: str | os.PathLike, height: int, width: int, objects: int,
                   short_side: int | None = None, platforms: Sequence[str] = ('cpu',)) -> dict:
  """Writes start.jaxexport, step.jaxexport, weights.npz and manifest.json into `out_dir` (created if needed).

  Args:
    model: a network whose state has a fixed size: GAM, or the memory bank with `memory_recent` > 0 (the first and
      the most recent frames); a growing memory bank cannot be exported.
    variables: {'params', 'batch_stats'} (other collections are ignored).
    out_dir: the artifact folder; files of an earlier export there are replaced.
    height, width: the frame size the artifact accepts.
    objects: K, the object slots (a video may use fewer: `valid` marks them).
    short_side: the internal resolution, as `VideoSegmenter`'s (None: native).
    platforms: the platforms the modules are lowered for (e.g. ('cpu', 'cuda')).

  Returns:
    The manifest written.

  Raises:
    ExportArtifactError: a growing memory bank, a non-positive size or object count, or an unknown platform.
  """
  policy = MemoryPolicy.of(model.config)
  if not policy.fixed_size:
    raise ExportArtifactError(f'only a fixed-size state can be exported (GAM, or the memory bank with memory_recent '
                              f'> 0); this network has {policy.describe()}')
  if height < 1 or width < 1 or objects < 1:
    raise ExportArtifactError(f'the frame size and object count must be positive, got {height}x{width} (HxW), '
                              f'{objects} objects')
  platforms = tuple(platforms)
  unknown = [p for p in platforms if p not in KNOWN_PLATFORMS]
  if not platforms or unknown:
    raise ExportArtifactError(f'platforms {list(platforms)}: each must be one of {", ".join(KNOWN_PLATFORMS)}')
  variables = {name: variables[name] for name in ('params', 'batch_stats') if name in variables}
  weight_paths, weights_treedef = jax.tree_util.tree_flatten_with_path(variables)
  weight_names = [_leaf_name(path) for path, _ in weight_paths]
  weights = [np.asarray(leaf) for _, leaf in weight_paths]
  geometry = FrameGeometry.for_frame(height, width, short_side)

  def start(weight_leaves, frame, masks, valid):
    network_variables = jax.tree.unflatten(weights_treedef, weight_leaves)
    return model.apply(network_variables, network_frame(frame, geometry)[None], network_masks(masks, geometry)[None],
                       valid[None], method=VOSNet.start)

  weight_specs = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in weights]
  frame_spec = jax.ShapeDtypeStruct((height, width, 3), jnp.uint8)
  masks_spec = jax.ShapeDtypeStruct((objects, height, width), jnp.float32)
  valid_spec = jax.ShapeDtypeStruct((objects,), jnp.bool_)
  state_shape = jax.eval_shape(start, weight_specs, frame_spec, masks_spec, valid_spec)
  state_paths, state_treedef = jax.tree_util.tree_flatten_with_path(state_shape)
  state_specs = [jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for _, leaf in state_paths]
  num_weights, num_state = len(weights), len(state_specs)

  def start_flat(*args):
    """(weights..., frame, masks, valid) -> (state...)."""
    return tuple(jax.tree.leaves(start(args[:num_weights], *args[num_weights:])))

  def step_flat(*args):
    """(weights..., state..., frame) -> (state..., probs, labels)."""
    network_variables = jax.tree.unflatten(weights_treedef, args[:num_weights])
    state = jax.tree.unflatten(state_treedef, args[num_weights:num_weights + num_state])
    frame = args[num_weights + num_state]
    state, logits = model.apply(network_variables, state, network_frame(frame, geometry)[None], method=VOSNet.step)
    probs = original_probabilities(logits[0], geometry)
    labels = jnp.argmax(probs, axis=0).astype(jnp.uint8)
    return (*jax.tree.leaves(state), probs, labels)

  start_exported = jax.export.export(jax.jit(start_flat), platforms=platforms)(*weight_specs, frame_spec, masks_spec,
                                                                             valid_spec)
  step_exported = jax.export.export(jax.jit(step_flat), platforms=platforms)(*weight_specs, *state_specs, frame_spec)
  if tuple(step_exported.out_avals[:num_state]) != tuple(step_exported.in_avals[num_weights:num_weights + num_state]):
    raise ExportArtifactError('the step changes the state\'s shapes or dtypes; this network cannot be exported')

  try:
    start_bytes, step_bytes = bytes(start_exported.serialize()), bytes(step_exported.serialize())
  except ImportError as error:  # jax serializes with the optional flatbuffers package
    raise ExportArtifactError(f'jax.export cannot serialize here ({error})') from None
  out = Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  _write_atomically(out / START_FILE, start_bytes)
  _write_atomically(out / STEP_FILE, step_bytes)
  with atomic_path(out / WEIGHTS_FILE) as temporary, open(temporary, 'wb') as f:
    np.savez(f, **{_weight_key(i): w for i, w in enumerate(weights)})

  manifest = {
      'format': FORMAT_NAME,
      'format_version': FORMAT_VERSION,
      'created_with': {'vosjax': vosjax.__version__, 'jax': jax.__version__, 'jaxlib': _version('jaxlib')},
      'platforms': list(platforms),
      'height': height,
      'width': width,
      'objects': objects,
      'short_side': short_side,
      'internal_size': list(geometry.internal),
      'padded_size': list(geometry.padded),
      'dtype': model.config.dtype,
      'matcher': model.config.matcher,
      'weights': {'file': WEIGHTS_FILE, 'count': num_weights,
                  'leaves': [_spec(_weight_key(i), name, w) for i, (name, w) in enumerate(zip(weight_names, weights))]},
      'state': {'count': num_state,
                'leaves': [_spec(None, _leaf_name(path), leaf) for path, leaf in state_paths]},
      'start': {'file': START_FILE,
                'inputs': ['weights... (weights.npz, in order)', f'frame [{height}, {width}, 3] uint8 RGB',
                           f'masks [{objects}, {height}, {width}] float32 (0/1 or soft, one per object slot)',
                           f'valid [{objects}] bool (the slots in use)'],
                'outputs': ['state... (state.leaves)']},
      'step': {'file': STEP_FILE,
               'inputs': ['weights... (weights.npz, in order)', 'state... (state.leaves)',
                          f'frame [{height}, {width}, 3] uint8 RGB'],
               'outputs': ['state... (state.leaves)',
                           f'probs [{objects + 1}, {height}, {width}] float32 (softmax: background 0, then the slots)',
                           f'labels [{height}, {width}] uint8 (argmax of probs: 0 background, k = slot k - 1)']},
      'files': file_records(out),
  }
  _write_atomically(out / MANIFEST_FILE, (json.dumps(manifest, indent=1) + '\n').encode())
  return manifest


def _weight_key(index: int) -> str:
  return f'w{index:04d}'


def _leaf_name(path) -> str:
  """A tree path as 'params/frame_encoder/stem/kernel' or 'matcher/context' (dict keys and dataclass fields)."""
  return '/'.join(str(getattr(key, 'key', getattr(key, 'name', key))) for key in path)


def _spec(key: str | None, name: str, leaf) -> dict:
  spec = {'name': name, 'shape': list(leaf.shape), 'dtype': str(np.dtype(leaf.dtype))}
  return {'key': key, **spec} if key else spec


def _version(package: str) -> str | None:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return None


def _write_atomically(path: Path, data: bytes) -> None:
  write_bytes(path, data)
