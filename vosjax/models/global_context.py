"""The global attention module's context matrix (paper Eq. 1-3), as pure functions over an explicit state.

Choices where the paper is silent (config field `key_normalization`):

* 'softmax' (default). Eq. 1 multiplies the frame keys F_T [N, C_N] with the mask values M_T [N, C_M]; as written the
  product grows with the number of positions N = h * w, so a context built at 384x384 in training would be read at
  a different scale at 480p or 2K. Following the Global Context module the paper builds on (GC, its ref. [14]), each
  key channel is normalised by a softmax over the positions before the product, so that every row of A_T is a
  weighted average of values, and the query key L_F is normalised by a softmax over its C_N channels before Eq. 3,
  so that D_T is a convex combination of the rows of G. Both are resolution-independent.
* 'mean': the literal products of Eq. 1 and Eq. 3 with A_T divided by N (only that, to keep the scale independent
  of the resolution).

Eq. 2 is applied per object with that object's own count T (objects may join mid-video, and an object that has not
joined yet keeps T = 0 and G = 0). It is written as the running mean G_T = G_{T-1} + (A_T - G_{T-1}) / T, which equals
A_T / T + (T - 1) / T * G_{T-1} and keeps every A_p weighted 1/T.

The state is fixed-size: its shapes depend on the batch, the object slots and the channels, never on how many frames
were seen.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class GlobalContextState:
  """GAM's memory of every past frame.

  Attributes:
    context: G_T, [B, K, C_N, C_M] float32, one context matrix per object slot.
    count: T, [B, K] float32, the number of frames aggregated into each object's context.
  """

  context: jax.Array
  count: jax.Array


def init_global_context(batch: int, num_objects: int, key_dim: int, value_dim: int) -> GlobalContextState:
  """An empty context: G_0 = 0, T = 0."""
  return GlobalContextState(
      context=jnp.zeros((batch, num_objects, key_dim, value_dim), jnp.float32),
      count=jnp.zeros((batch, num_objects), jnp.float32),
  )


def frame_context(frame_key: jax.Array, values: jax.Array, normalization: str) -> jax.Array:
  """Eq. 1: A_T = F_T^T M_T for every object.

  Args:
    frame_key: F_T, [B, N, C_N] keys of the memorised frame (N = h * w positions).
    values: M_T, [B, K, N, C_M] mask values of each object in that frame.
    normalization: 'softmax' or 'mean' (see the module docstring).

  Returns:
    A_T, [B, K, C_N, C_M] float32.
  """
  frame_key = frame_key.astype(jnp.float32)
  values = values.astype(jnp.float32)
  if normalization == 'softmax':
    weights = jax.nn.softmax(frame_key, axis=1)  # each key channel: a distribution over positions
    return jnp.einsum('bnc,bknm->bkcm', weights, values)
  if normalization == 'mean':
    return jnp.einsum('bnc,bknm->bkcm', frame_key, values) / frame_key.shape[1]
  raise ValueError(f'unknown key normalization {normalization!r}')


def update_global_context(state: GlobalContextState, frame_ctx: jax.Array, write: jax.Array) -> GlobalContextState:
  """Eq. 2: G_T = A_T / T + (T - 1) / T * G_{T-1}, for the objects selected by `write`.

  Args:
    state: the context after T - 1 frames.
    frame_ctx: A_T, [B, K, C_N, C_M].
    write: [B, K] bool, which objects take this frame into their context.

  Returns:
    The updated state; objects with write=False are unchanged.
  """
  count = state.count + write.astype(jnp.float32)
  safe_count = jnp.maximum(count, 1.0)[..., None, None]
  updated = state.context + (frame_ctx - state.context) / safe_count
  context = jnp.where(write[..., None, None], updated, state.context)
  return GlobalContextState(context=context, count=count)


def read_global_context(state: GlobalContextState, query_key: jax.Array, normalization: str) -> jax.Array:
  """Eq. 3: D_T = L_F G_{T-1}.

  Args:
    state: the context of the past frames.
    query_key: L_F, [B, N, C_N] keys of the current frame.
    normalization: 'softmax' or 'mean'.

  Returns:
    D_T, [B, K, N, C_M] float32.
  """
  query_key = query_key.astype(jnp.float32)
  if normalization == 'softmax':
    query_key = jax.nn.softmax(query_key, axis=-1)
  elif normalization != 'mean':
    raise ValueError(f'unknown key normalization {normalization!r}')
  return jnp.einsum('bnc,bkcm->bknm', query_key, state.context)
