"""Many videos in one jitted step: B slots of one fixed-size state, each slot segmenting its own video.

A fixed-size state (GAM, or a memory bank with `memory_recent`; `vosjax.inference.memory_policy`) has the same shapes
for every video of one frame size and object count, so B videos advance together:
one batched step per time step, frame t of every slot at once. A slot whose video ends takes the next video of the
queue (its slot of the state is replaced by that video's freshly started state); slots left without a video at the
end of the queue are fed blank frames whose outputs are dropped. Objects joining mid-video work as in the one-video
engine (each slot's joining masks go in with its frame).

Results equal `VideoSegmenter`'s for each video alone (tests/test_batched_engine.py): the network treats the batch
axis independently, and unused object slots (every video gets the group's largest object count) take no part.

Every step stores its frame (the memory bank decides inside the network, per video, from the frame's index and the
joining objects, which frames its ring keeps), so the mask encoder runs on every frame. A memory bank that grows
with the video grows differently for each video, so it is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import deque
from typing import Hashable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.eval_stream import EvalFrame
from vosjax.inference.engine import VideoSegmenter, add_objects, slot_lookup
from vosjax.inference.resolution import FrameGeometry, network_frame, network_masks, original_probabilities
from vosjax.models import VOSNet


@dataclasses.dataclass(frozen=True)
class BatchOutput:
  """One event of a batched run.

  Attributes:
    key: the video's key, as given.
    frame: the frame segmented, or None when `finished`.
    ids: [H, W] uint8 object ids of `frame` (None when `finished`).
    finished: True once, after the video's last frame.
    step_seconds: this frame's share of the wall time between two fetched steps (divided by the slots in use).
  """

  key: Hashable
  frame: EvalFrame | None
  ids: np.ndarray | None
  finished: bool = False
  step_seconds: float = 0.0


@dataclasses.dataclass
class _Slot:
  key: Hashable
  frames: Iterator[EvalFrame]
  slot_ids: list[int]


@dataclasses.dataclass
class _Pending:
  """A dispatched step: its device labels [B, H, W] and, per active slot, (slot, key, frame, slot ids then)."""

  labels: jax.Array
  entries: list[tuple[int, Hashable, EvalFrame, tuple[int, ...]]]


def _drain(pending: _Pending | None, clock: list[float]) -> Iterator[BatchOutput]:
  """Fetches a dispatched step's labels and yields its frames' outputs; clock[0] is when the last drain ended."""
  if pending is None:
    return
  labels = np.asarray(pending.labels)
  now = time.perf_counter()
  share = (now - clock[0]) / len(pending.entries)
  clock[0] = now
  for slot, key, frame, slot_ids in pending.entries:
    yield BatchOutput(key, frame, slot_lookup(slot_ids)[labels[slot]], step_seconds=share)


def _insert(batch_state, single_state, slot):
  """Replaces slot `slot` of a [B, ...] state by a [1, ...] state."""
  return jax.tree.map(lambda whole, one: whole.at[slot].set(one[0]), batch_state, single_state)


class BatchedVideoSegmenter:
  """Segments the videos of one frame size `videos_per_batch` at a time.

  Args:
    segmenter: the one-video engine whose network, variables and internal resolution are used.
    videos_per_batch: B, the slots of the batched state.
  """

  def __init__(self, segmenter: VideoSegmenter, videos_per_batch: int):
    if videos_per_batch < 1:
      raise ValueError(f'videos_per_batch must be at least 1, got {videos_per_batch}')
    if not segmenter.memory_policy.fixed_size:
      raise ValueError(f'several videos per batch need a state of fixed size (GAM, or a memory bank with '
                       f'memory_recent > 0); this network has {segmenter.memory_policy.describe()}')
    self.segmenter = segmenter
    self.videos_per_batch = videos_per_batch
    self._step = jax.jit(self._step_fn, static_argnames='geometry')
    self._insert = jax.jit(_insert)
    self._broadcast = jax.jit(lambda state: jax.tree.map(
        lambda x: jnp.repeat(x, videos_per_batch, axis=0), state))

  def _step_fn(self, variables, state, frames, new_masks, new_objects, geometry):
    """frames: [B, H, W, 3] uint8 -> (state, [B, H, W] uint8 slot labels)."""
    model: VOSNet = self.segmenter.model
    network_frames = jax.vmap(functools.partial(network_frame, geometry=geometry))(frames)
    if new_masks is not None:
      new_masks = jax.vmap(functools.partial(network_masks, geometry=geometry))(new_masks)
    state, logits = model.apply(variables, state, network_frames, new_masks, new_objects, True, method=VOSNet.step)
    probs = jax.vmap(functools.partial(original_probabilities, geometry=geometry))(logits)
    return state, jnp.argmax(probs, axis=1).astype(jnp.uint8)

  def segment(self, videos: Iterable[tuple[Hashable, Iterator[EvalFrame]]], num_objects: int,
              frame_size: tuple[int, int]) -> Iterator[BatchOutput]:
    """Yields every frame of every video, then a `finished` event per video.

    Args:
      videos: (key, frame stream) per video (`vosjax.data.stream_video`); all of size `frame_size`.
      num_objects: object slots per video (at least the largest object count of any of the videos).
      frame_size: (H, W) of every frame.

    Raises:
      ValueError: a frame of another size, or more objects than `num_objects`.
    """
    geometry = self.segmenter.geometry(*frame_size)
    queue = deque(videos)
    size = self.videos_per_batch
    slots: list[_Slot | None] = [None] * size
    state = None
    # The step of time t + 1 is dispatched before the labels of time t are fetched (as in the one-video engine), so
    # reading frames and writing files overlaps the device's work; a video's end drains the step in flight first.
    pending: _Pending | None = None
    clock = [time.perf_counter()]
    while True:
      frames: list[EvalFrame | None] = [None] * size
      for i in range(size):
        while frames[i] is None and (slots[i] is not None or queue):
          if slots[i] is None:
            key, stream = queue.popleft()
            first = next(stream, None)
            if first is None:
              yield BatchOutput(key, None, None, finished=True)
              continue
            single, slot_ids, ids = self._start(first, num_objects, geometry)
            state = self._broadcast(single) if state is None else self._insert(state, single, i)
            slots[i] = _Slot(key, stream, slot_ids)
            yield BatchOutput(key, first, ids)
          frame = next(slots[i].frames, None)
          if frame is None:
            yield from _drain(pending, clock)
            pending = None
            yield BatchOutput(slots[i].key, None, None, finished=True)
            slots[i] = None
          else:
            frames[i] = frame
      active = [i for i in range(size) if frames[i] is not None]
      if not active:
        yield from _drain(pending, clock)
        return
      images = np.zeros((size,) + geometry.original + (3,), np.uint8)
      new_masks = new_objects = None
      for i in active:
        frame = frames[i]
        if frame.image.shape[:2] != geometry.original:
          raise ValueError(f'{slots[i].key}: frame {frame.name} is {frame.image.shape[:2]}, not {geometry.original}')
        images[i] = frame.image
        if frame.new_object_ids:
          if new_masks is None:
            new_masks = np.zeros((size, num_objects) + geometry.original, np.float32)
            new_objects = np.zeros((size, num_objects), bool)
          slot_ids = slots[i].slot_ids
          if len(slot_ids) + len(frame.new_object_ids) > num_objects:
            raise ValueError(f'{slots[i].key}: frame {frame.name}: objects {frame.new_object_ids} join but only '
                             f'{num_objects} slots were allocated')
          add_objects(frame, slot_ids, new_masks[i], new_objects[i])
      state, labels = self._step(self.segmenter.variables, state, images, new_masks, new_objects, geometry=geometry)
      yield from _drain(pending, clock)
      pending = _Pending(labels, [(i, slots[i].key, frames[i], tuple(slots[i].slot_ids)) for i in active])

  def _start(self, first: EvalFrame, num_objects: int, geometry: FrameGeometry):
    """The [1, ...] state of a video from its first frame, its slot ids, and the first frame's output ids."""
    if first.image.shape[:2] != geometry.original:
      raise ValueError(f'frame {first.name}: size {first.image.shape[:2]} differs from {geometry.original}')
    if len(first.new_object_ids) > num_objects:
      raise ValueError(f'frame {first.name}: {len(first.new_object_ids)} objects but only {num_objects} slots were '
                       'allocated')
    masks = np.zeros((num_objects,) + geometry.original, np.float32)
    valid = np.zeros(num_objects, bool)
    slot_ids = []
    add_objects(first, slot_ids, masks, valid)
    single = self.segmenter.start_state(first.image, masks, valid, geometry)
    ids = np.where(np.isin(first.given_ids, slot_ids), first.given_ids, 0).astype(np.uint8)
    return single, slot_ids, ids
