"""The per-frame inference engine: a video streamed in, label maps streamed out, with a fixed-size state (GAM).

Object ids are mapped to the network's object slots in order of appearance; objects that first appear mid-video
join the state at that frame. With the memory-bank matcher, the engine grows the memory on the host before each
frame the bank stores and skips the mask encoder on the others.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.augment import normalize_frames
from vosjax.data.eval_stream import EvalFrame
from vosjax.models import VOSNet, ensure_capacity, stores_frame


class VideoSegmenter:
  """Segments videos frame by frame with one network and its variables.

  Args:
    model: the network.
    variables: {'params', 'batch_stats'}.
    num_objects: object slots to allocate for every video (one compiled step for all videos with at most this many
      objects); None allocates each video's own count.
  """

  def __init__(self, model: VOSNet, variables: dict, num_objects: int | None = None):
    self.model = model
    self.variables = variables
    self.num_objects = num_objects
    self._start = jax.jit(self._start_fn)
    self._step = jax.jit(self._step_fn, static_argnames='store')

  def _start_fn(self, variables, frame, masks, valid):
    return self.model.apply(variables, normalize_frames(frame)[None], masks[None], valid[None], method=VOSNet.start)

  def _step_fn(self, variables, state, frame, new_masks, new_objects, store):
    state, logits = self.model.apply(variables, state, normalize_frames(frame)[None],
                                     None if new_masks is None else new_masks[None],
                                     None if new_objects is None else new_objects[None], store,
                                     method=VOSNet.step)
    return state, jnp.argmax(logits[0], axis=0).astype(jnp.uint8)

  def segment(self, frames: Iterable[EvalFrame], num_objects: int | None = None) -> Iterator[tuple[EvalFrame,
                                                                                                    np.ndarray]]:
    """Yields (frame, [H, W] uint8 object ids) for every frame; the first frame's output is its given mask.

    Args:
      frames: the video's frames in order (`vosjax.data.stream_video`).
      num_objects: object slots to allocate (default: the objects of the first frame; give the video's total when
        objects join later).
    """
    config = self.model.config
    state, slot_ids, stored = None, [], 0
    for frame in frames:
      if state is None:
        slot_ids = list(frame.new_object_ids)
        slots = max(num_objects or self.num_objects or 0, len(slot_ids))
        masks = np.zeros((slots,) + frame.image.shape[:2], np.float32)
        for slot, object_id in enumerate(slot_ids):
          masks[slot] = frame.given_ids == object_id
        valid = np.arange(slots) < len(slot_ids)
        state = self._start(self.variables, frame.image, masks, valid)
        stored = 1
        yield frame, np.where(np.isin(frame.given_ids, slot_ids), frame.given_ids, 0).astype(np.uint8)
        continue
      slots = state.object_valid.shape[1]
      new_masks = new_objects = None
      if frame.new_object_ids:
        if len(slot_ids) + len(frame.new_object_ids) > slots:
          raise ValueError(f'frame {frame.name}: objects {frame.new_object_ids} join but only {slots} slots were '
                           'allocated; pass num_objects')
        new_masks = np.zeros((slots,) + frame.image.shape[:2], np.float32)
        new_objects = np.zeros(slots, bool)
        for object_id in frame.new_object_ids:
          new_masks[len(slot_ids)] = frame.given_ids == object_id
          new_objects[len(slot_ids)] = True
          slot_ids.append(object_id)
      store = True
      if config.matcher == 'memory_bank':
        store = stores_frame(frame.index, config.memory_every, joining=bool(frame.new_object_ids))
        if store:
          state = state.replace(matcher=ensure_capacity(state.matcher, stored))
          stored += 1
      state, labels = self._step(self.variables, state, frame.image, new_masks, new_objects, store=store)
      lookup = np.array([0] + slot_ids + [0] * (slots - len(slot_ids)), np.uint8)
      yield frame, lookup[np.asarray(labels)]

