"""An STM-style space-time memory, the matcher beside GAM (config `matcher='memory_bank'`; the earlier shipped models').

With `memory_recent` R > 0 the memory has a fixed size instead: the first frame, the R most recent stored frames
(a ring) and optionally L long-term frames spaced `memory_long_every` apart (another ring), so, like GAM's, its
state and cost per frame stay the same however long the video. `memory_top_k` restricts each query's read to its k
best matches; `memory_local_radius` restricts it, in every stored frame but the first, to a window around the query's
own position.

Every `memory_every`-th frame stores its keys [N, C_N] (shared by all objects) and each object's values [N, C_M].
A query reads all stored positions with a softmax over dot-product affinities (STM). Unlike GAM, its cost grows
with the video: the state holds `capacity` frame slots, of which `count` are filled (`valid`), and the read attends
over all `capacity * N` positions. Capacity grows in buckets (`grow_memory_bank`), on the host between jitted
steps, so a longer video really holds, and computes over, a larger memory; a jitted step compiles once per bucket.
A fixed-size memory never grows (`ensure_capacity`); which frames are stored and when the host makes room is decided
in one place for every engine, `vosjax.inference.memory_policy`.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np


@flax.struct.dataclass
class MemoryBankState:
  """The stored frames.

  Attributes:
    keys: [B, S, N, C_N] keys of the stored frames (S = capacity).
    values: [B, K, S, N, C_M] each object's values in the stored frames.
    valid: [B, S] bool, which slots hold a frame.
    count: [B] int32, the number of filled slots (the next slot to write).
  """

  keys: jax.Array
  values: jax.Array
  valid: jax.Array
  count: jax.Array

  @property
  def capacity(self) -> int:
    return self.keys.shape[1]


def init_memory_bank(batch: int, num_objects: int, positions: int, key_dim: int, value_dim: int,
                     capacity: int, dtype=jnp.float32) -> MemoryBankState:
  """An empty memory with `capacity` slots."""
  return MemoryBankState(
      keys=jnp.zeros((batch, capacity, positions, key_dim), dtype),
      values=jnp.zeros((batch, num_objects, capacity, positions, value_dim), dtype),
      valid=jnp.zeros((batch, capacity), bool),
      count=jnp.zeros((batch,), jnp.int32),
  )


def grow_memory_bank(state: MemoryBankState, capacity: int) -> MemoryBankState:
  """Returns the same memory with room for `capacity` frames (host-side; changes the state's shapes)."""
  extra = capacity - state.capacity
  if extra < 0:
    raise ValueError(f'cannot shrink a memory bank from {state.capacity} to {capacity} slots')
  if extra == 0:
    return state
  pad = lambda x, axis: jnp.pad(x, [(0, extra) if a == axis else (0, 0) for a in range(x.ndim)])
  return MemoryBankState(keys=pad(state.keys, 1), values=pad(state.values, 2), valid=pad(state.valid, 1),
                         count=state.count)


def stores_frame(frame_index: int, memory_every: int, joining: bool = False) -> bool:
  """Whether the memory bank keeps frame `frame_index` (host-side, so an engine can skip the mask encoder)."""
  return frame_index % memory_every == 0 or joining


def ensure_capacity(state: MemoryBankState, stored: int, *, memory_recent: int) -> MemoryBankState:
  """Makes room for one more frame, host-side and without a device sync.

  Args:
    state: the memory.
    stored: how many frames it holds, as counted on the host by the caller (`stores_frame` tells which frames).
    memory_recent: the network's `memory_recent`. A fixed-size memory (R > 0) is never grown: its ring replaces its
      oldest recent frame instead, and extra slots would break the ring.

  Returns:
    The same memory, with its capacity doubled if it grows with the video and is full (so a video of n memory frames
    compiles the jitted step about log2(n) times).
  """
  if memory_recent or stored < state.capacity:
    return state
  return grow_memory_bank(state, max(2 * state.capacity, 1))


def write_memory_bank(state: MemoryBankState, key: jax.Array, values: jax.Array, write: jax.Array,
                      recent: int = 0, long_slot: jax.Array | None = None) -> MemoryBankState:
  """Stores one frame in the next free slot of each batch element selected by `write`.

  A growing memory (`recent` 0): the caller guarantees a free slot (grow first); a write into a full memory is
  dropped rather than overwriting. A fixed-size memory (`recent` R > 0): slot 0 keeps the first frame, slots 1..R
  are a ring of the R most recent stored frames (each write replaces the oldest), and any slots after them hold
  long-term frames, written through `long_slot`.

  Args:
    state: the memory.
    key: [B, N, C_N] the frame's keys.
    values: [B, K, N, C_M] each object's values.
    write: [B] bool, store the frame in the next (or the ring's oldest) slot.
    recent: 0, or R (static).
    long_slot: optional [B] int32, a slot the frame is also stored in (-1: none); see `long_term_slot`.
  """
  slots = jnp.arange(state.capacity)
  slot = state.count
  if recent and state.capacity > 1:
    ring = min(recent, state.capacity - 1)
    slot = jnp.where(state.count < 1 + ring, state.count, 1 + (state.count - 1) % ring)
  target = (slots[None, :] == slot[:, None]) & write[:, None]  # [B, S]
  wrote = jnp.any(target, axis=1)
  if long_slot is not None:
    target = target | (slots[None, :] == long_slot[:, None])
  keys = jnp.where(target[:, :, None, None], key[:, None].astype(state.keys.dtype), state.keys)
  new_values = jnp.where(target[:, None, :, None, None], values[:, :, None].astype(state.values.dtype), state.values)
  return MemoryBankState(keys=keys, values=new_values, valid=state.valid | target,
                         count=state.count + wrote.astype(jnp.int32))


def long_term_slot(frame_index: jax.Array, recent: int, long_slots: int, long_every: int) -> jax.Array:
  """The long-term slot a frame is stored in, or -1.

  Every `long_every`-th frame (from frame `long_every` on) replaces the oldest of `long_slots` slots placed after
  the first frame and the R recent ones, so the memory also holds frames from further back than the recent ring
  reaches, spaced `long_every` apart, at a fixed size.

  Args:
    frame_index: [B] int32, the frame's index in the video.
    recent: R, the recent ring's slots (static).
    long_slots: L (static).
    long_every: the spacing of long-term frames, in frames (static).

  Returns:
    [B] int32 slot indices in 1 + R .. R + L, or -1.
  """
  turn = frame_index // long_every - 1
  due = (frame_index > 0) & (frame_index % long_every == 0)
  return jnp.where(due, 1 + recent + turn % long_slots, -1).astype(jnp.int32)


def local_window(grid: tuple[int, int], radius: int) -> np.ndarray:
  """[N, N] bool: which positions of a (h, w) grid lie within `radius` cells (Chebyshev distance) of each other.

  Built on the host from static shapes, so it is a constant of the compiled step.
  """
  rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
  return ((np.abs(rows[:, None] - rows[None, :]) <= radius)
          & (np.abs(cols[:, None] - cols[None, :]) <= radius))


def read_memory_bank(state: MemoryBankState, query_key: jax.Array, top_k: int = 0,
                     local_radius: int = 0, grid: tuple[int, int] | None = None) -> jax.Array:
  """Reads the memory for every query position (STM's space-time memory read).

  Args:
    state: the memory.
    query_key: [B, N_q, C_N] keys of the current frame.
    top_k: 0 = a softmax over every stored position; k > 0 = over each query's k most similar positions only (the
      others get no weight), which keeps a few matches from being drowned by many weak ones (static).
    local_radius: 0 = every stored position may match; r > 0 = in every stored frame but the first (slot 0), a
      query position reads only the positions within r cells of its own (a window around where the object was
      when those frames were stored; the first frame, from which it may have moved anywhere, stays global). An
      object that joins after the first frame has its own first mask in a later slot, read in the window too
      (static).
    grid: (h, w) of the query and stored positions, N_q = N = h * w; needed when local_radius > 0 (static).

  Returns:
    [B, K, N_q, C_M] float32: for each object, the affinity-weighted average of its stored values.
  """
  batch, capacity, positions, key_dim = state.keys.shape
  affinity = jnp.einsum('bqc,bsnc->bqsn', query_key.astype(jnp.float32), state.keys.astype(jnp.float32))
  affinity = affinity / jnp.sqrt(float(key_dim))
  if local_radius:
    if grid is None or grid[0] * grid[1] != positions or query_key.shape[1] != positions:
      raise ValueError(f'a local read needs the grid of the {positions} stored positions, got grid={grid} and '
                       f'{query_key.shape[1]} query positions')
    near = jnp.asarray(local_window(grid, local_radius))[None, :, None, :]  # [1, N_q, 1, N], a constant of N^2
    first = (jnp.arange(capacity) == 0)[None, None, :, None]  # [1, 1, S, 1]: the first frame stays global
    affinity = jnp.where(near | first, affinity, -1e30)
  # A large negative rather than -inf: an empty memory then reads zeros instead of NaN.
  affinity = jnp.where(state.valid[:, None, :, None], affinity, -1e30)
  affinity = affinity.reshape(batch, query_key.shape[1], capacity * positions)
  if 0 < top_k < capacity * positions:
    kth = jax.lax.top_k(affinity, top_k)[0][..., -1:]  # [B, N_q, 1], the k-th largest affinity
    affinity = jnp.where(affinity >= kth, affinity, -1e30)
  weights = jax.nn.softmax(affinity, axis=-1)
  values = state.values.astype(jnp.float32).reshape(batch, state.values.shape[1], capacity * positions, -1)
  return jnp.einsum('bqm,bkmv->bkqv', weights, values)
