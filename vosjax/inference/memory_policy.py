"""The tracker's memory policy, decided once for every engine: which frames enter the memory, whether its state has
a fixed size, and when a growing memory makes room.

* GAM (`matcher='global'`) folds every frame into a context of fixed size.
* The memory bank stores every `memory_every`-th frame and every frame where an object joins. With `memory_recent`
  R > 0 its state has a fixed size (the first frame, a ring of the R latest stored frames and `memory_long`
  long-term slots): it never grows. With R = 0 it grows with the video: the host makes room before each frame it
  stores (capacity doubled when full, so a video compiles the step about log2(frames stored) times).

A fixed-size state has the same shapes for every video and every frame, which is what batching several videos
(`vosjax.inference.batched_engine`) and exporting a tracker (`vosjax.export`) need.

    policy = MemoryPolicy.of(model.config)
    stored = 1                                    # the first frame is in the memory after VOSNet.start
    for t in range(1, T):
      store = policy.stores(t, joining=objects_join_at_t)
      if store:
        state = policy.make_room(state, stored)
        stored += 1
      state, logits = step(variables, state, frame_t, store=store)
"""

from __future__ import annotations

import dataclasses

from vosjax.models import ModelConfig, TrackerState, ensure_capacity, stores_frame


@dataclasses.dataclass(frozen=True)
class MemoryPolicy:
  """When frames are stored and whether the state may grow, for one network.

  Attributes:
    matcher: 'global' (GAM) or 'memory_bank'.
    memory_every: the memory bank stores every this many frames (GAM: every frame).
    memory_recent: 0 for a memory bank that grows with the video, R > 0 for a fixed-size one.
  """

  matcher: str
  memory_every: int = 1
  memory_recent: int = 0

  @classmethod
  def of(cls, config: ModelConfig) -> 'MemoryPolicy':
    return cls(config.matcher, config.memory_every, config.memory_recent)

  @property
  def fixed_size(self) -> bool:
    """Whether the state keeps its shapes over a whole video (GAM, or a memory bank with memory_recent > 0)."""
    return self.matcher == 'global' or self.memory_recent > 0

  @property
  def grows(self) -> bool:
    """Whether the host must make room before a stored frame (a memory bank without memory_recent)."""
    return not self.fixed_size

  @property
  def stores_every_frame(self) -> bool:
    """Whether every frame enters the memory (GAM, or a memory bank with memory_every 1)."""
    return self.matcher == 'global' or self.memory_every == 1

  def stores(self, frame_index: int, joining: bool = False) -> bool:
    """Whether frame `frame_index` enters the memory; a step given False skips the mask encoder.

    Args:
      frame_index: the frame's index in the video (0 is the reference frame, stored by `VOSNet.start`).
      joining: whether an object's given mask first appears in this frame (such a frame is always stored).
    """
    if self.stores_every_frame:
      return True
    return stores_frame(frame_index, self.memory_every, joining=joining)

  def make_room(self, state: TrackerState, stored: int) -> TrackerState:
    """The state, with room for one more frame if its memory grows and is full (host-side, no device sync).

    Args:
      state: the tracker's state.
      stored: the frames its memory holds, counted on the host (1 after `VOSNet.start`, plus one per stored frame).
    """
    if not self.grows:
      return state
    return state.replace(matcher=ensure_capacity(state.matcher, stored, memory_recent=self.memory_recent))

  def describe(self) -> str:
    """A phrase for messages, e.g. 'a memory bank that grows with the video'."""
    if self.matcher == 'global':
      return 'the global context (GAM), of fixed size'
    if self.fixed_size:
      return f'a fixed-size memory bank (the first frame and the {self.memory_recent} latest stored)'
    return 'a memory bank that grows with the video'
