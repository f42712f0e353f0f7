"""The per-frame inference engine: a video streamed in, label maps streamed out, with an explicit state.

Object ids are mapped to the network's object slots in order of appearance; objects that first appear mid-video
join the state at that frame. Which frames enter the memory, and whether it grows, is the network's memory policy
(`vosjax.inference.memory_policy`): a frame the memory does not keep skips the mask encoder, and a memory bank that
grows with the video makes room on the host before a frame it stores.

Frames go in and label maps come out at the video's own size; the jitted step resizes to the internal resolution,
pads to the network's stride and undoes both (`vosjax.inference.resolution`). One frame is in flight at a time: the
step of frame t+1 is dispatched before frame t's labels are fetched, so reading and writing files overlaps the
accelerator's work.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.eval_stream import EvalFrame
from vosjax.inference.resolution import FrameGeometry, network_frame, network_masks, original_probabilities
from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.models import VOSNet


class VideoSegmenter:
  """Segments videos frame by frame with one network and its variables.

  Args:
    model: the network (its config's dtype, float32 or bfloat16, is the computation dtype).
    variables: {'params', 'batch_stats'}.
    num_objects: object slots to allocate for every video (one compiled step for all videos with at most this many
      objects); None allocates each video's own count.
    short_side: internal resolution: frames whose shorter side is longer are scaled down to it (e.g. 480 for
      1080p/2K input) and the output is upsampled back; None segments at native resolution.
  """

  def __init__(self, model: VOSNet, variables: dict, num_objects: int | None = None, short_side: int | None = None):
    self.model = model
    self.variables = jax.device_put(variables)  # once: the jitted steps then read weights already on the device
    self.num_objects = num_objects
    self.short_side = short_side
    self.memory_policy = MemoryPolicy.of(model.config)
    self._start = jax.jit(self._start_fn, static_argnames='geometry')
    self._step = jax.jit(self._step_fn, static_argnames=('geometry', 'store'))

  def set_variables(self, variables: dict) -> None:
    """Segments with other variables of the same network (the compiled steps are kept)."""
    self.variables = jax.device_put(variables)

  def geometry(self, height: int, width: int) -> FrameGeometry:
    """How an H x W video passes through the network."""
    return FrameGeometry.for_frame(height, width, self.short_side)

  def start_state(self, frame: np.ndarray, masks: np.ndarray, valid: np.ndarray, geometry: FrameGeometry):
    """The [1, ...] state after the first frame: frame [H, W, 3] uint8, masks [K, H, W], valid [K] bool."""
    return self._start(self.variables, frame, masks, valid, geometry=geometry)

  def _start_fn(self, variables, frame, masks, valid, geometry):
    return self.model.apply(variables, network_frame(frame, geometry)[None], network_masks(masks, geometry)[None],
                            valid[None], method=VOSNet.start)

  def _step_fn(self, variables, state, frame, new_masks, new_objects, geometry, store):
    """frame: [H, W, 3] uint8 -> (state, [H, W] uint8 slot labels: 0 background, k = slot k - 1)."""
    if new_masks is not None:
      new_masks = network_masks(new_masks, geometry)[None]
      new_objects = new_objects[None]
    state, logits = self.model.apply(variables, state, network_frame(frame, geometry)[None], new_masks, new_objects,
                                     store, method=VOSNet.step)
    return state, jnp.argmax(original_probabilities(logits[0], geometry), axis=0).astype(jnp.uint8)

  def segment(self, frames: Iterable[EvalFrame], num_objects: int | None = None) -> Iterator[tuple[EvalFrame,
                                                                                                    np.ndarray]]:
    """Yields (frame, [H, W] uint8 object ids) for every frame, in order; the first frame's output is its mask.

    Args:
      frames: the video's frames in order (`vosjax.data.stream_video`), all of one size.
      num_objects: object slots to allocate (default: the objects of the first frame; give the video's total when
        objects join later).

    Raises:
      ValueError: a frame's size differs from the first frame's, or more objects join than slots were allocated.
    """
    policy = self.memory_policy
    state, slot_ids, stored, geometry = None, [], 0, None
    pending = None  # (frame, slot ids then, device labels) of the frame whose step is in flight
    for frame in frames:
      if state is None:
        geometry = self.geometry(*frame.image.shape[:2])
        slots = max(num_objects or self.num_objects or 0, len(frame.new_object_ids))
        masks = np.zeros((slots,) + frame.image.shape[:2], np.float32)
        valid = np.zeros(slots, bool)
        slot_ids = []
        add_objects(frame, slot_ids, masks, valid)
        state = self.start_state(frame.image, masks, valid, geometry)
        stored = 1
        yield frame, np.where(np.isin(frame.given_ids, slot_ids), frame.given_ids, 0).astype(np.uint8)
        continue
      if frame.image.shape[:2] != geometry.original:
        raise ValueError(f'frame {frame.name}: size {frame.image.shape[:2]} differs from the first frame\'s '
                         f'{geometry.original}')
      slots = state.object_valid.shape[1]
      new_masks = new_objects = None
      if frame.new_object_ids:
        if len(slot_ids) + len(frame.new_object_ids) > slots:
          raise ValueError(f'frame {frame.name}: objects {frame.new_object_ids} join but only {slots} slots were '
                           'allocated; pass num_objects')
        new_masks = np.zeros((slots,) + frame.image.shape[:2], np.float32)
        new_objects = np.zeros(slots, bool)
        add_objects(frame, slot_ids, new_masks, new_objects)
      store = policy.stores(frame.index, joining=bool(frame.new_object_ids))
      if store:
        state = policy.make_room(state, stored)
        stored += 1
      state, labels = self._step(self.variables, state, frame.image, new_masks, new_objects, geometry=geometry,
                                 store=store)
      if pending is not None:
        yield _to_ids(*pending)
      pending = (frame, tuple(slot_ids), labels)
    if pending is not None:
      yield _to_ids(*pending)


def add_objects(frame: EvalFrame, slot_ids: list[int], masks: np.ndarray, joining: np.ndarray) -> None:
  """Gives the objects first appearing in `frame` the next free slots.

  Appends their ids to `slot_ids`; writes each one's given mask into masks[slot] ([K, H, W]) and sets joining[slot]
  ([K] bool). The caller checks that K slots are enough.
  """
  for object_id in frame.new_object_ids:
    masks[len(slot_ids)] = frame.given_ids == object_id
    joining[len(slot_ids)] = True
    slot_ids.append(object_id)


def slot_lookup(slot_ids: tuple[int, ...] | list[int]) -> np.ndarray:
  """[256] uint8 table from slot labels (0 background, k = slot k - 1) to the video's object ids."""
  lookup = np.zeros(256, np.uint8)
  lookup[1:len(slot_ids) + 1] = slot_ids
  return lookup


def _to_ids(frame: EvalFrame, slot_ids: tuple[int, ...], labels: jax.Array) -> tuple[EvalFrame, np.ndarray]:
  """Fetches a frame's slot labels and maps slots to the video's object ids."""
  return frame, slot_lookup(slot_ids)[np.asarray(labels)]
