"""GAM's context (Eq. 1-3) and the STM-style memory bank, as pure functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vosjax.models import global_context as gc
from vosjax.models import memory_bank as mb


def test_gam_update_is_the_plain_average_of_every_frame_context():
  rng = np.random.RandomState(0)
  frame_contexts = rng.randn(50, 2, 3, 8, 16).astype(np.float32)  # T, B, K, C_N, C_M
  state = gc.init_global_context(2, 3, 8, 16)
  write = jnp.ones((2, 3), bool)
  update = jax.jit(gc.update_global_context)
  for t in range(50):
    state = update(state, jnp.asarray(frame_contexts[t]), write)
    expected = frame_contexts[:t + 1].mean(axis=0)  # Eq. 2: every A_p weighted 1 / T
    np.testing.assert_allclose(np.asarray(state.context), expected, atol=2e-6)
    np.testing.assert_array_equal(np.asarray(state.count), t + 1)


def test_gam_update_skips_objects_not_written_and_counts_per_object():
  state = gc.init_global_context(1, 2, 2, 2)
  a1, a2 = jnp.ones((1, 2, 2, 2)), 3 * jnp.ones((1, 2, 2, 2))
  state = gc.update_global_context(state, a1, jnp.array([[True, False]]))
  state = gc.update_global_context(state, a2, jnp.array([[True, True]]))  # object 1 joins at the second frame
  np.testing.assert_allclose(state.context[0, 0], 2.0)  # (1 + 3) / 2
  np.testing.assert_allclose(state.context[0, 1], 3.0)  # only A_2
  np.testing.assert_array_equal(state.count, [[2, 1]])


def test_gam_state_shape_does_not_depend_on_frames_seen():
  state = gc.init_global_context(1, 2, 4, 8)
  shapes = jax.tree.map(jnp.shape, state)
  for _ in range(5):
    state = gc.update_global_context(state, jnp.ones((1, 2, 4, 8)), jnp.ones((1, 2), bool))
  assert jax.tree.map(jnp.shape, state) == shapes


def test_frame_context_and_read_follow_the_equations():
  rng = np.random.RandomState(1)
  keys = rng.randn(1, 12, 4).astype(np.float32)   # B, N, C_N
  values = rng.randn(1, 2, 12, 5).astype(np.float32)  # B, K, N, C_M
  query = rng.randn(1, 7, 4).astype(np.float32)
  # 'mean': the literal Eq. 1 product, divided by N; Eq. 3 as written.
  a_mean = gc.frame_context(keys, values, 'mean')
  np.testing.assert_allclose(a_mean[0, 1], keys[0].T @ values[0, 1] / 12, rtol=1e-5)
  state = gc.GlobalContextState(context=a_mean, count=jnp.ones((1, 2)))
  np.testing.assert_allclose(gc.read_global_context(state, query, 'mean')[0, 1], query[0] @ a_mean[0, 1], rtol=1e-5)
  # 'softmax': keys normalised over positions (rows of A are averages of values), queries over channels.
  a_soft = gc.frame_context(keys, values, 'softmax')
  weights = np.exp(keys[0]) / np.exp(keys[0]).sum(0, keepdims=True)
  np.testing.assert_allclose(a_soft[0, 0], weights.T @ values[0, 0], rtol=1e-5)
  state = gc.GlobalContextState(context=a_soft, count=jnp.ones((1, 2)))
  q = np.exp(query[0]) / np.exp(query[0]).sum(1, keepdims=True)
  np.testing.assert_allclose(gc.read_global_context(state, query, 'softmax')[0, 0], q @ a_soft[0, 0], rtol=1e-5)


def test_softmax_context_does_not_depend_on_resolution():
  # The same content at 4x the positions (each position repeated) gives the same context.
  rng = np.random.RandomState(2)
  keys, values = rng.randn(1, 6, 3), rng.randn(1, 1, 6, 4)
  small = gc.frame_context(keys, values, 'softmax')
  large = gc.frame_context(np.repeat(keys, 4, 1), np.repeat(values, 4, 2), 'softmax')
  np.testing.assert_allclose(small, large, rtol=1e-5)


def test_memory_bank_read_is_attention_over_stored_frames():
  rng = np.random.RandomState(3)
  state = mb.init_memory_bank(1, 2, positions=5, key_dim=4, value_dim=3, capacity=4)
  k1, k2 = rng.randn(1, 5, 4).astype(np.float32), rng.randn(1, 5, 4).astype(np.float32)
  v1, v2 = rng.randn(1, 2, 5, 3).astype(np.float32), rng.randn(1, 2, 5, 3).astype(np.float32)
  state = mb.write_memory_bank(state, k1, v1, jnp.array([True]))
  state = mb.write_memory_bank(state, k2, v2, jnp.array([False]))  # not a memory frame
  state = mb.write_memory_bank(state, k2, v2, jnp.array([True]))
  np.testing.assert_array_equal(state.count, [2])
  np.testing.assert_array_equal(state.valid, [[True, True, False, False]])
  query = rng.randn(1, 6, 4).astype(np.float32)
  keys = np.concatenate([k1[0], k2[0]])  # 10 stored positions
  logits = query[0] @ keys.T / 2.0
  weights = np.exp(logits - logits.max(1, keepdims=True))
  weights /= weights.sum(1, keepdims=True)
  expected = weights @ np.concatenate([v1[0, 1], v2[0, 1]])
  np.testing.assert_allclose(mb.read_memory_bank(state, query)[0, 1], expected, rtol=1e-5, atol=1e-6)


def test_memory_bank_grows_and_its_cost_grows_with_it():
  state = mb.init_memory_bank(1, 1, positions=16, key_dim=8, value_dim=8, capacity=2)
  for _ in range(3):  # the third write finds the memory full and is dropped
    state = mb.write_memory_bank(state, jnp.ones((1, 16, 8)), jnp.ones((1, 1, 16, 8)), jnp.array([True]))
  np.testing.assert_array_equal(state.count, [2])
  grown = mb.grow_memory_bank(state, 6)
  assert grown.capacity == 6 and grown.keys.shape == (1, 6, 16, 8)
  np.testing.assert_array_equal(grown.valid, [[True, True, False, False, False, False]])
  grown = mb.write_memory_bank(grown, 2 * jnp.ones((1, 16, 8)), jnp.ones((1, 1, 16, 8)), jnp.array([True]))
  np.testing.assert_array_equal(grown.count, [3])
  with pytest.raises(ValueError, match='shrink'):
    mb.grow_memory_bank(grown, 2)

  def read_flops(capacity):
    memory = mb.init_memory_bank(1, 1, 16, 8, 8, capacity)
    compiled = jax.jit(mb.read_memory_bank).lower(memory, jnp.ones((1, 16, 8))).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return analysis['flops']

  assert read_flops(8) > 3.5 * read_flops(2)


def test_fixed_size_memory_keeps_the_first_and_the_most_recent_frames():
  state = mb.init_memory_bank(1, 1, positions=2, key_dim=1, value_dim=1, capacity=3)
  for frame in range(6):  # frame f has keys and values f
    value = jnp.full((1, 1, 2, 1), float(frame))
    state = mb.write_memory_bank(state, jnp.full((1, 2, 1), float(frame)), value, jnp.array([True]), recent=2)
  # Slot 0 keeps frame 0; frames 1..5 went to slots 1, 2, 1, 2, 1, so slots 1 and 2 hold the two latest, 5 and 4.
  np.testing.assert_array_equal(state.keys[0, :, 0, 0], [0.0, 5.0, 4.0])
  np.testing.assert_array_equal(state.values[0, 0, :, 0, 0], [0.0, 5.0, 4.0])
  np.testing.assert_array_equal(state.count, [6])
  assert state.capacity == 3


def test_top_k_read_weighs_only_each_querys_best_matches():
  rng = np.random.RandomState(5)
  state = mb.init_memory_bank(1, 1, positions=6, key_dim=4, value_dim=2, capacity=2)
  keys = rng.randn(1, 6, 4).astype(np.float32)
  values = rng.randn(1, 1, 6, 2).astype(np.float32)
  state = mb.write_memory_bank(state, keys, values, jnp.array([True]))
  query = rng.randn(1, 3, 4).astype(np.float32)
  logits = query[0] @ keys[0].T / 2.0  # [3, 6]; the empty second slot gets no weight
  best = np.argsort(-logits, axis=1)[:, :2]
  expected = []
  for q in range(3):
    w = np.exp(logits[q, best[q]] - logits[q, best[q]].max())
    expected.append((w / w.sum()) @ values[0, 0, best[q]])
  np.testing.assert_allclose(mb.read_memory_bank(state, query, top_k=2)[0, 0], expected, rtol=1e-5, atol=1e-6)
  # k at least the number of positions is the plain read
  np.testing.assert_array_equal(mb.read_memory_bank(state, query, top_k=12), mb.read_memory_bank(state, query))


def test_local_read_reaches_a_window_of_later_frames_and_the_whole_first_frame():
  rng = np.random.RandomState(6)
  grid, radius = (3, 4), 1
  positions = grid[0] * grid[1]
  state = mb.init_memory_bank(1, 1, positions=positions, key_dim=4, value_dim=2, capacity=3)
  keys = rng.randn(2, 1, positions, 4).astype(np.float32)
  values = rng.randn(2, 1, 1, positions, 2).astype(np.float32)
  for t in range(2):  # slot 0: the first frame, slot 1: a later one; slot 2 stays empty
    state = mb.write_memory_bank(state, keys[t], values[t], jnp.array([True]))
  query = rng.randn(1, positions, 4).astype(np.float32)
  got = np.asarray(mb.read_memory_bank(state, query, local_radius=radius, grid=grid))[0, 0]
  for q in range(positions):
    qy, qx = divmod(q, grid[1])
    near = [n for n in range(positions) if max(abs(n // grid[1] - qy), abs(n % grid[1] - qx)) <= radius]
    reached_keys = np.concatenate([keys[0, 0], keys[1, 0, near]])  # the whole first frame, a window of the later
    reached_values = np.concatenate([values[0, 0, 0], values[1, 0, 0, near]])
    logits = reached_keys @ query[0, q] / 2.0
    weights = np.exp(logits - logits.max())
    np.testing.assert_allclose(got[q], weights / weights.sum() @ reached_values, rtol=1e-5, atol=1e-6)
  # A window covering the grid is the plain read; a read without the grid is refused.
  np.testing.assert_allclose(mb.read_memory_bank(state, query, local_radius=4, grid=grid),
                             mb.read_memory_bank(state, query), rtol=1e-6)
  with pytest.raises(ValueError, match='grid'):
    mb.read_memory_bank(state, query, local_radius=1)


def test_long_term_slots_keep_every_nth_frame_beside_the_recent_ring():
  recent, long_slots, every = 2, 2, 3
  state = mb.init_memory_bank(1, 1, positions=1, key_dim=1, value_dim=1, capacity=1 + recent + long_slots)
  for frame in range(11):  # frame f has key f
    index = jnp.array([frame], jnp.int32)
    long_slot = mb.long_term_slot(index, recent, long_slots, every)
    state = mb.write_memory_bank(state, jnp.full((1, 1, 1), float(frame)), jnp.full((1, 1, 1, 1), float(frame)),
                                 jnp.array([True]), recent=recent, long_slot=long_slot)
  # slot 0: frame 0; the ring: frames 10 and 9; long-term: frames 3, 6, 9 went to slots 3, 4, 3.
  np.testing.assert_array_equal(state.keys[0, :, 0, 0], [0.0, 9.0, 10.0, 9.0, 6.0])
  np.testing.assert_array_equal(state.valid, [[True] * 5])
  np.testing.assert_array_equal(state.count, [11])
  np.testing.assert_array_equal(mb.long_term_slot(jnp.arange(7), recent, long_slots, every),
                                [-1, -1, -1, 3, -1, -1, 4])
