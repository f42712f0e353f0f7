"""The whole network of the paper (section 3), with explicit state for frame-by-frame use.

Entry points (call them with `model.apply(variables, ..., method=...)`):

* `encode_frame(frame) -> FrameFeatures`: the frame encoder (ResNet-50 to stride 16), the key L_F / F_T, the current
  frame's own value V_L and the decoder's frame-level skip projections. Each frame is encoded once; the same features
  serve as the query of this frame and, via `memorize`, as the memory of later frames.
* `init_state(features, frame, masks, object_valid) -> TrackerState`: an empty matcher state with the reference
  masks memorised.
* `segment(state, features) -> logits`: the read of the matcher (GAM's D_T or the memory bank), combination with V_L,
  CAM, MEM and the decoder, then soft aggregation over objects.
* `memorize(state, features, frame, object_probs) -> state`: the mask encoder M_E(F_T, M), the matcher update
  (Eq. 1-2 for GAM) and the MEM history.
* `step(state, frame) -> (state, logits)` and `step_from_features(...)`: segment then memorise one frame.

`vosjax.models.unroll.unroll_clip` threads the state through `jax.lax.scan` with the same methods, so a training
clip and frame-by-frame inference compute the same numbers.
"""

from __future__ import annotations

from typing import Union

import math

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from vosjax.models import global_context as gc
from vosjax.models import memory_bank as mb
from vosjax.models.aggregation import soft_aggregate
from vosjax.models.channel_attention import ChannelAttention
from vosjax.models.config import ModelConfig
from vosjax.models.decoder import Decoder, SkipProjection
from vosjax.models.mask_embedding import MaskEmbedding, history_channels
from vosjax.models.mask_encoder import MaskEncoder
from vosjax.models.encoders import build_encoder, encoder_input

MatcherState = Union[gc.GlobalContextState, mb.MemoryBankState]


@flax.struct.dataclass
class FrameFeatures:
  """Everything computed from a frame alone (h, w = stride-16 grid; h8, w8 and h4, w4 = strides 8 and 4).

  Attributes:
    key: [B, h, w, C_N] the frame's key (L_F as a query, F_T as a memory).
    query_value: [B, h, w, C_V] the frame's own value V_L.
    stride16: [B, h, w, C_16] frame-encoder layer3 features (the F_T the mask encoder fuses with).
    skip8: [B, h8, w8, D_8] decoder skip projection of layer2.
    skip4: [B, h4, w4, D_4] decoder skip projection of layer1.
    image_size: (H, W) of the frame (static).
  """

  key: jax.Array
  query_value: jax.Array
  stride16: jax.Array
  skip8: jax.Array
  skip4: jax.Array
  image_size: tuple[int, int] = flax.struct.field(pytree_node=False)


@flax.struct.dataclass
class TrackerState:
  """The recurrent state carried from frame to frame.

  Attributes:
    matcher: GlobalContextState (fixed size) or MemoryBankState (grows with the video).
    history: [B, L, K, H, W] the last L object probabilities (oldest first), MEM's input.
    object_valid: [B, K] bool, the object slots in use.
    frame_index: [B] int32, the index of the last frame processed (0 = the reference frame).
    side_bank: a fixed-size MemoryBankState read beside GAM's context: with `gam_first_frame` one slot holding the
      first frame's keys and values, with `gam_memory` the memory bank's fixed-size policy; else None.
  """

  matcher: MatcherState
  history: jax.Array
  object_valid: jax.Array
  frame_index: jax.Array
  side_bank: mb.MemoryBankState | None = None


class VOSNet(nn.Module):
  """Real-time high-resolution VOS: frame/mask encoders, GAM (or a memory bank), CAM, MEM, STM decoder."""

  config: ModelConfig

  def setup(self):
    cfg = self.config
    dtype = jnp.dtype(cfg.dtype)
    conv3 = lambda features, name: nn.Conv(features, (3, 3), padding=((1, 1), (1, 1)), dtype=dtype, name=name)
    self.frame_encoder = build_encoder(cfg.frame_encoder, dtype)
    self.key_proj = conv3(cfg.key_dim, 'key_proj')
    query_value_dim = cfg.value_dim if cfg.gam_combine == 'sum' else cfg.query_value_dim
    self.query_value_proj = conv3(query_value_dim, 'query_value_proj')
    self.skip8_proj = SkipProjection(cfg.decoder_up_dims[0], dtype=dtype)
    self.skip4_proj = SkipProjection(cfg.decoder_up_dims[1], dtype=dtype)
    self.mask_encoder = MaskEncoder(cfg)
    if cfg.use_cam:
      self.channel_attention = ChannelAttention(similarity=cfg.cam_similarity,
                                                temperature_init=cfg.cam_temperature_init)
    if cfg.matcher == 'global' and cfg.key_normalization == 'softmax' and cfg.gam_temperature_init > 0:
      self.gam_log_temperature = self.param('gam_log_temperature',
                                            nn.initializers.constant(math.log(cfg.gam_temperature_init)), ())
    if cfg.use_mem:
      self.mask_embedding = MaskEmbedding(cfg.mem_widths, use_position=cfg.mem_position, dtype=dtype)
    self.decoder = Decoder(cfg.decoder_dim, cfg.decoder_up_dims, dtype=dtype)

  # ---------------------------------------------------------------------------------------------------- encoding
  def encode_frame(self, frame: jax.Array) -> FrameFeatures:
    """Encodes frames once. frame: [B, H, W, 3] ImageNet-normalised RGB."""
    stages = self.frame_encoder(encoder_input(frame, self.config.frame_encoder))
    return FrameFeatures(
        key=self.key_proj(stages['layer3']),
        query_value=self.query_value_proj(stages['layer3']),
        stride16=stages['layer3'],
        skip8=self.skip8_proj(stages['layer2']),
        skip4=self.skip4_proj(stages['layer1']),
        image_size=(frame.shape[1], frame.shape[2]),
    )

  # ------------------------------------------------------------------------------------------------------- state
  def init_state(self, features: FrameFeatures, frame: jax.Array, masks: jax.Array, object_valid: jax.Array,
                 memory_capacity: int | None = None) -> TrackerState:
    """Starts tracking from a reference frame.

    Args:
      features: the reference frame's features.
      frame: [B, H, W, 3] the reference frame.
      masks: [B, K, H, W] the given object masks (0/1 or soft).
      object_valid: [B, K] bool, which object slots are objects (the others are padding).
      memory_capacity: memory-bank slots to allocate (default: `config.memory_bucket`, or a fixed-size memory's
        1 + memory_recent, which is also the most it takes); unused by GAM.

    Returns:
      The state after memorising the reference frame (frame_index 0).
    """
    cfg = self.config
    batch, objects, height, width = masks.shape
    h, w = features.key.shape[1:3]
    bank = lambda capacity: mb.init_memory_bank(batch, objects, h * w, cfg.key_dim, cfg.value_dim, capacity)
    side_bank = None
    if cfg.matcher == 'global':
      matcher = gc.init_global_context(batch, objects, cfg.key_dim, cfg.value_dim)
      if cfg.gam_first_frame or cfg.gam_memory:
        side_bank = bank(1 if cfg.gam_first_frame else cfg.initial_memory_capacity(memory_capacity))
    else:
      matcher = bank(cfg.initial_memory_capacity(memory_capacity))
    state = TrackerState(
        matcher=matcher,
        history=jnp.zeros((batch, cfg.mem_history, objects, height, width), jnp.float32),
        object_valid=object_valid.astype(bool),
        frame_index=jnp.zeros((batch,), jnp.int32),
        side_bank=side_bank,
    )
    masks = masks.astype(jnp.float32) * state.object_valid[:, :, None, None]
    # Before any prediction exists, the reference mask stands for every past frame MEM looks at.
    state = state.replace(history=jnp.broadcast_to(masks[:, None], state.history.shape))
    return self.memorize(state, features, frame, masks)

  def memorize(self, state: TrackerState, features: FrameFeatures, frame: jax.Array, object_probs: jax.Array,
               joining: jax.Array | None = None, store: bool = True) -> TrackerState:
    """Adds a frame and its (predicted or given) masks to the state.

    Args:
      state: the state before this frame.
      features: this frame's features.
      frame: [B, H, W, 3] this frame.
      object_probs: [B, K, H, W] each object's probability in this frame.
      joining: optional [B, K] bool, objects whose given mask first appears in this frame (the memory bank stores
        such a frame whatever its index).
      store: static; False skips the mask encoder and leaves the matcher as it is (an engine passes False for the
        frames a memory bank will not keep; see `memory_bank.stores_frame`). MEM's history is updated either way.
    """
    cfg = self.config
    batch, objects = object_probs.shape[:2]
    history = jnp.concatenate([state.history[:, 1:], object_probs[:, None].astype(state.history.dtype)], axis=1)
    if not store:
      return state.replace(history=history)
    values = self.mask_encoder(frame, object_probs, features.stride16)  # M_T: [B, K, h, w, C_M]
    values = values.reshape(batch, objects, -1, cfg.value_dim)
    key = features.key.reshape(batch, -1, cfg.key_dim)
    if cfg.matcher == 'global':
      frame_ctx = gc.frame_context(self._gam_logits(key), values, cfg.key_normalization)
      matcher = gc.update_global_context(state.matcher, frame_ctx, state.object_valid)
      if cfg.gam_first_frame:  # written once, at frame 0; a full one-slot bank drops later writes
        state = state.replace(side_bank=mb.write_memory_bank(state.side_bank, key, values, state.frame_index == 0))
      elif cfg.gam_memory:
        state = state.replace(side_bank=self._write_bank(state.side_bank, state.frame_index, key, values, joining))
    else:
      matcher = self._write_bank(state.matcher, state.frame_index, key, values, joining)
    return state.replace(matcher=matcher, history=history)

  def _write_bank(self, bank: mb.MemoryBankState, frame_index: jax.Array, key: jax.Array, values: jax.Array,
                  joining: jax.Array | None) -> mb.MemoryBankState:
    """The memory bank after this frame, by the config's policy. key: [B, N, C_N]; values: [B, K, N, C_M]."""
    cfg = self.config
    write = frame_index % cfg.memory_every == 0
    if joining is not None:
      write = write | jnp.any(joining, axis=1)
    long_slot = None
    if cfg.memory_long:
      long_slot = mb.long_term_slot(frame_index, cfg.memory_recent, cfg.memory_long, cfg.memory_long_every)
    return mb.write_memory_bank(bank, key, values, write, cfg.memory_recent, long_slot)

  def _gam_logits(self, key: jax.Array) -> jax.Array:
    """Keys as GAM's softmaxes see them: times the learned temperature where the config has one."""
    if hasattr(self, 'gam_log_temperature'):
      return key.astype(jnp.float32) * jnp.exp(self.gam_log_temperature)
    return key

  # ------------------------------------------------------------------------------------------------ segmentation
  def segment(self, state: TrackerState, features: FrameFeatures) -> jax.Array:
    """Predicts the current frame from the state.

    Args:
      state: the state of the past frames.
      features: the current frame's features.

    Returns:
      [B, K + 1, H, W] float32 logits (channel 0: background), softmax-ready.
    """
    cfg = self.config
    dtype = jnp.dtype(cfg.dtype)
    batch, h, w, _ = features.key.shape
    objects = state.object_valid.shape[1]
    height, width = features.image_size
    query_key = features.key.reshape(batch, h * w, cfg.key_dim)
    if cfg.matcher == 'global':
      read = gc.read_global_context(state.matcher, self._gam_logits(query_key), cfg.key_normalization)  # D_T, Eq. 3
      if state.side_bank is not None:
        read = jnp.concatenate([read, mb.read_memory_bank(state.side_bank, query_key, cfg.memory_top_k,
                                                            cfg.memory_local_radius, (h, w))], axis=-1)
    else:
      read = mb.read_memory_bank(state.matcher, query_key, cfg.memory_top_k, cfg.memory_local_radius, (h, w))
    read = read.reshape(batch, objects, h, w, read.shape[-1]).astype(dtype)
    self.sow('intermediates', 'read', read)  # D_T and V_L, for inspection only (kept when 'intermediates' is mutable)
    self.sow('intermediates', 'query_value', features.query_value)
    query_value = features.query_value.astype(dtype)  # [B, h, w, C_V], the same for every object
    if cfg.gam_combine == 'sum':
      own, shared = read + query_value[:, None], None
    else:  # [D_T, V_L] per object; V_L's share of the work is done once per frame where it can be
      own, shared = read, query_value
    if cfg.use_cam:
      x = self.channel_attention(own, shared)
    elif shared is None:
      x = own
    else:
      x = jnp.concatenate([own, jnp.broadcast_to(shared[:, None], (batch, objects) + shared.shape[1:])], axis=-1)
    x = x.reshape(batch * objects, h, w, -1)
    if cfg.use_mem:
      embedding_in = history_channels(state.history, state.object_valid)
      embedding = self.mask_embedding(embedding_in.reshape(batch * objects, height, width, -1))
      x = jnp.concatenate([x, embedding.astype(x.dtype)], axis=-1)
    object_logits = self.decoder(x, features.skip8, features.skip4, height, width)
    return soft_aggregate(object_logits.reshape(batch, objects, height, width), state.object_valid)

  def step_from_features(self, state: TrackerState, features: FrameFeatures, frame: jax.Array,
                         new_masks: jax.Array | None = None, new_objects: jax.Array | None = None,
                         store: bool = True) -> tuple[TrackerState, jax.Array]:
    """Segments one frame whose features are already computed, then memorises it.

    Args:
      state: the state after the previous frame.
      features: this frame's features.
      frame: [B, H, W, 3] this frame.
      new_masks: optional [B, K, H, W] given masks of objects that first appear in this frame.
      new_objects: optional [B, K] bool, the slots of `new_masks` that join here. Their given mask replaces the
        prediction (and is removed from the other objects) and fills their MEM history; earlier frames are
        untouched.
      store: static; see `memorize`.

    Returns:
      (the new state, [B, K + 1, H, W] logits of this frame).
    """
    state = state.replace(frame_index=state.frame_index + 1)
    logits = self.segment(state, features)
    probs = jax.nn.softmax(logits, axis=1)
    if new_masks is not None:
      joining = new_objects.astype(bool)[:, :, None, None]
      given = jnp.where(joining, new_masks.astype(jnp.float32), 0.0)
      given_union = jnp.clip(jnp.sum(given, axis=1, keepdims=True), 0.0, 1.0)
      object_probs = jnp.where(joining, given, probs[:, 1:] * (1.0 - given_union))
      background = jnp.clip(1.0 - jnp.sum(object_probs, axis=1, keepdims=True), 0.0, 1.0)
      # Only where an object joins do the outputs change (so a frame with no join gives the same logits).
      any_joining = jnp.any(joining, axis=(1, 2, 3))[:, None, None, None]
      probs = jnp.where(any_joining, jnp.concatenate([background, object_probs], axis=1), probs)
      logits = jnp.where(any_joining, jnp.log(jnp.clip(probs, 1e-7, 1.0)), logits)
      # A joining object has no past predictions: its given mask stands for them, as at the reference frame.
      history = jnp.where(joining[:, None], given[:, None], state.history)
      state = state.replace(object_valid=state.object_valid | new_objects.astype(bool), history=history)
    joining_flags = None if new_objects is None else new_objects.astype(bool)
    state = self.memorize(state, features, frame, probs[:, 1:], joining_flags, store)
    return state, logits

  def step(self, state: TrackerState, frame: jax.Array, new_masks: jax.Array | None = None,
           new_objects: jax.Array | None = None, store: bool = True) -> tuple[TrackerState, jax.Array]:
    """Encodes, segments and memorises one frame: [B, H, W, 3] -> (state, [B, K + 1, H, W] logits).

    Jit it with `static_argnames='store'` (see `step_from_features`).
    """
    return self.step_from_features(state, self.encode_frame(frame), frame, new_masks, new_objects, store)

  def start(self, frame: jax.Array, masks: jax.Array, object_valid: jax.Array,
            memory_capacity: int | None = None) -> TrackerState:
    """Encodes the reference frame and returns the initial state (see `init_state`)."""
    return self.init_state(self.encode_frame(frame), frame, masks, object_valid, memory_capacity)

  def __call__(self, frame: jax.Array, masks: jax.Array, object_valid: jax.Array) -> jax.Array:
    """Runs start + one step on the same frame; used by `init` to create every parameter.

    Returns: [B, K + 1, H, W] logits.
    """
    state = self.start(frame, masks, object_valid)
    _, logits = self.step(state, frame)
    return logits
