"""The memory policy (`vosjax.inference.memory_policy`): which frames are stored, a fixed-size memory never grows,
and the batched engine takes a fixed-size memory bank with the masks of one video at a time."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from test_inference import _video
from vosjax.inference import BatchedVideoSegmenter, VideoSegmenter
from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.models import VOSNet, ensure_capacity, init_variables, tiny_config
from vosjax.models import memory_bank as mb

FIXED_BANK = tiny_config(matcher='memory_bank', memory_every=2, memory_recent=2)


@functools.lru_cache(maxsize=None)
def _fixed_bank():
  model = VOSNet(FIXED_BANK)
  return model, init_variables(model, seed=0)


def test_which_frames_each_matcher_stores():
  gam = MemoryPolicy.of(tiny_config())
  growing = MemoryPolicy.of(tiny_config(matcher='memory_bank', memory_every=5))
  fixed = MemoryPolicy.of(FIXED_BANK)
  assert [gam.stores(t) for t in range(1, 6)] == [True] * 5
  assert [growing.stores(t) for t in range(1, 11)] == [False] * 4 + [True] + [False] * 4 + [True]
  assert growing.stores(3, joining=True)  # a frame where an object joins is always stored
  assert [fixed.stores(t) for t in range(1, 5)] == [False, True, False, True]
  assert (gam.fixed_size, growing.fixed_size, fixed.fixed_size) == (True, False, True)
  assert (gam.grows, growing.grows, fixed.grows) == (False, True, False)


def test_ensure_capacity_never_grows_a_fixed_size_memory():
  full = mb.init_memory_bank(1, 1, positions=2, key_dim=1, value_dim=1, capacity=3)
  assert ensure_capacity(full, 3, memory_recent=2).capacity == 3
  assert ensure_capacity(full, 40, memory_recent=2) is full
  assert ensure_capacity(full, 3, memory_recent=0).capacity == 6  # a growing memory doubles when full
  assert ensure_capacity(full, 2, memory_recent=0) is full  # not full yet


def test_the_documented_loop_keeps_a_fixed_memory_at_its_size_and_grows_the_other():
  """The loop of the policy's docstring (and the README's) over 12 frames."""
  frames = jnp.asarray(np.random.RandomState(0).rand(12, 1, 32, 32, 3).astype(np.float32))
  masks, valid = jnp.zeros((1, 1, 32, 32)).at[:, :, 8:20, 8:20].set(1.0), jnp.ones((1, 1), bool)
  capacities = {}
  for name, config in (('fixed', FIXED_BANK), ('growing', dataclasses.replace(FIXED_BANK, memory_recent=0,
                                                                              memory_bucket=2))):
    model = VOSNet(config)
    variables = init_variables(model, seed=0)
    policy = MemoryPolicy.of(config)
    step = jax.jit(functools.partial(model.apply, method=VOSNet.step), static_argnames='store')
    state = model.apply(variables, frames[0], masks, valid, method=VOSNet.start)
    stored = 1
    for t in range(1, 12):
      store = policy.stores(t)
      if store:
        state = policy.make_room(state, stored)
        stored += 1
      state, _ = step(variables, state, frames[t], store=store)
    capacities[name] = (state.matcher.capacity, int(state.matcher.count[0]), stored)
  # Frames 0, 2, ..., 10 were stored (6): the fixed memory keeps 3 slots (its count is the writes), the other grew
  # from 2 to 4 to 8 slots.
  assert capacities == {'fixed': (3, 6, 6), 'growing': (8, 6, 6)}


def test_batched_engine_takes_a_fixed_size_memory_bank_with_the_masks_of_one_video_at_a_time():
  model, variables = _fixed_bank()
  videos = {'a': dict(num_frames=7, ids_at_start=(3, 7)), 'b': dict(num_frames=3, ids_at_start=(2,), seed=1),
            'c': dict(num_frames=6, ids_at_start=(5,), joins={3: (9, (20, 30, 30, 44))}, seed=2)}
  frames = lambda name: _video(height=48, width=64, **videos[name])
  alone = {name: [ids for _, ids in VideoSegmenter(model, variables).segment(frames(name), num_objects=2)]
           for name in videos}
  batched = BatchedVideoSegmenter(VideoSegmenter(model, variables), videos_per_batch=2)
  got = {name: [] for name in videos}
  for output in batched.segment(((name, frames(name)) for name in videos), num_objects=2, frame_size=(48, 64)):
    if not output.finished:
      got[output.key].append(output.ids)
  for name in videos:
    assert len(got[name]) == len(alone[name])
    flipped = sum(int(np.sum(b != a)) for b, a in zip(got[name], alone[name]))
    assert flipped <= 2, (name, flipped)  # XLA may block a larger batch's products differently (last-bit ties)
  assert any(9 in ids for ids in got['c'][3:])  # the object joining at frame 3 is tracked


def test_batched_engine_refuses_a_growing_memory_bank():
  model = VOSNet(tiny_config(matcher='memory_bank'))
  with pytest.raises(ValueError, match='a memory bank that grows with the video'):
    BatchedVideoSegmenter(VideoSegmenter(model, init_variables(model, seed=0)), videos_per_batch=2)
