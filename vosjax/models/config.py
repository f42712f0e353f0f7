"""Hyper-parameters of the network, as one frozen (hashable) dataclass.

Flax modules need hashable attributes, so the ml_collections configs under `configs/` hold a `model` block whose
fields are exactly the fields below and are turned into a `ModelConfig` with `ModelConfig(**cfg.model)`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """A torchvision-layout ResNet truncated after `len(depths)` stages.

  Attributes:
    block: 'bottleneck' (ResNet-50/101) or 'basic' (ResNet-18/34).
    depths: blocks per stage; the paper's encoders stop after layer3 (stride 16), so ResNet-50 is (3, 4, 6) and
      ResNet-18 is (2, 2, 2).
    widths: the inner width of each stage (torchvision: 64, 128, 256); a bottleneck stage outputs 4x that.
    stem_width: channels of the 7x7 stem convolution.
  """

  block: Literal['bottleneck', 'basic'] = 'bottleneck'
  depths: tuple[int, ...] = (3, 4, 6)
  widths: tuple[int, ...] = (64, 128, 256)
  stem_width: int = 64

  @property
  def expansion(self) -> int:
    return 4 if self.block == 'bottleneck' else 1

  def stage_channels(self) -> tuple[int, ...]:
    return tuple(w * self.expansion for w in self.widths)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Everything that shapes the network of the paper (section 3).

  Attributes:
    frame_encoder: the frame encoder F_E (paper: ResNet-50 to layer3).
    mask_encoder: the mask encoder M_E (paper: ResNet-18 to layer3).
    mask_encoder_rgb: feed the RGB frame to the mask encoder beside the two mask channels (object, other objects).
      True makes the first conv 5-channel; ImageNet RGB kernels are kept and the mask kernels start at zero.
    key_dim: C_N, channels of the frame key (used for GAM's F_T and L_F and for the memory bank's keys).
    value_dim: C_M, channels of the mask value M_T (the columns of G_T).
    query_value_dim: channels of the current frame's own value V_L, combined with the read-out D_T.
    key_normalization: how GAM normalises keys (see `vosjax.models.global_context`): 'softmax' (GC-style, default),
      or 'mean' (the literal Eq. 1-3 product, divided by the number of positions).
    gam_temperature_init: 0 = the key and query logits enter GAM's softmaxes as they are; > 0 = both are multiplied by
      a learned temperature starting at this value (softmax normalisation only). Measured on real video: without
      it the softmaxes stay nearly flat and D_T is almost the same vector at every position.
    gam_combine: 'concat' (D_T concatenated with V_L) or 'sum' (V_L projected to C_M and added).
    matcher: 'global' (GAM, fixed-size state) or 'memory_bank' (STM-style memory that grows with the video).
    memory_every: a frame enters the memory bank every this many frames (STM: 5). GAM updates every frame.
    memory_bucket: the memory bank grows its capacity in multiples of this many frames.
    use_cam: apply the channel-wise attention module (Eq. 4-7).
    cam_similarity: how CAM's channel relation R is measured (see `vosjax.models.channel_attention`): 'dot_mean'
      (Eq. 4 divided by the number of positions) or 'cosine' (channels compared as unit vectors, times a learned
      temperature starting at `cam_temperature_init`).
    cam_temperature_init: see cam_similarity.
    use_mem: apply the mask embedding module (Eq. 8).
    mem_widths: channels of MEM's four stride-2 conv+ReLU layers (so its output is at stride 16).
    mem_history: number of past predicted masks MEM sees (paper: 3).
    mem_position: give MEM the position channels P of Eq. 8 (off only for the ablation).
    fuser_dim: channels of the block fusing mask-encoder and frame features before the value projection.
    decoder_dim: channels of the decoder's stride-16 input block. 256 is STM's decoder (a 3x3 conv to 256 and a
      256-channel residual block, then the two refinements at 256), which the paper says it uses; a larger value
      widens that block and adds a 3x3 conv down to decoder_up_dims[0].
    decoder_up_dims: channels after the stride-8 and the stride-4 refinement blocks.
    dtype: computation dtype ('float32' or 'bfloat16'); parameters and the matcher state stay float32.
  """

  frame_encoder: ResNetConfig = ResNetConfig()
  mask_encoder: ResNetConfig = ResNetConfig(block='basic', depths=(2, 2, 2), widths=(64, 128, 256))
  mask_encoder_rgb: bool = True
  key_dim: int = 128
  value_dim: int = 512
  query_value_dim: int = 512
  key_normalization: Literal['softmax', 'mean'] = 'softmax'
  gam_temperature_init: float = 0.0
  gam_combine: Literal['concat', 'sum'] = 'concat'
  matcher: Literal['global', 'memory_bank'] = 'global'
  memory_every: int = 5
  memory_bucket: int = 8
  use_cam: bool = True
  cam_similarity: Literal['dot_mean', 'cosine'] = 'dot_mean'
  cam_temperature_init: float = 10.0
  use_mem: bool = True
  mem_widths: tuple[int, int, int, int] = (16, 32, 64, 128)
  mem_history: int = 3
  mem_position: bool = True
  fuser_dim: int = 512
  decoder_dim: int = 256
  decoder_up_dims: tuple[int, int] = (256, 256)
  dtype: Literal['float32', 'bfloat16'] = 'float32'

  def __post_init__(self):
    if self.matcher not in ('global', 'memory_bank'):
      raise ValueError(f"matcher must be 'global' or 'memory_bank', got {self.matcher!r}")
    if self.key_normalization not in ('softmax', 'mean'):
      raise ValueError(f"key_normalization must be 'softmax' or 'mean', got {self.key_normalization!r}")
    if self.cam_similarity not in ('dot_mean', 'cosine'):
      raise ValueError(f"cam_similarity must be 'dot_mean' or 'cosine', got {self.cam_similarity!r}")
    if self.gam_combine not in ('concat', 'sum'):
      raise ValueError(f"gam_combine must be 'concat' or 'sum', got {self.gam_combine!r}")
    if len(self.frame_encoder.depths) != 3 or len(self.mask_encoder.depths) != 3:
      raise ValueError('both encoders must have exactly 3 stages (strides 4, 8, 16)')
    if self.memory_every < 1 or self.memory_bucket < 1 or self.mem_history < 1:
      raise ValueError('memory_every, memory_bucket and mem_history must be >= 1')

  @classmethod
  def from_dict(cls, d) -> 'ModelConfig':
    """Builds a config from a (possibly nested) mapping such as an ml_collections ConfigDict."""
    d = dict(d)
    for name in ('frame_encoder', 'mask_encoder'):
      if name in d and not isinstance(d[name], ResNetConfig):
        sub = dict(d[name])
        d[name] = ResNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()})
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def paper_config(**overrides) -> ModelConfig:
  """The paper's network: ResNet-50 frame encoder, ResNet-18 mask encoder, GAM + CAM + MEM."""
  return dataclasses.replace(ModelConfig(), **overrides)


def tiny_config(**overrides) -> ModelConfig:
  """A network small enough for tests and CPU training (same structure, narrow and shallow)."""
  base = ModelConfig(
      frame_encoder=ResNetConfig(block='bottleneck', depths=(1, 1, 1), widths=(8, 16, 32), stem_width=16),
      mask_encoder=ResNetConfig(block='basic', depths=(1, 1, 1), widths=(8, 16, 32), stem_width=8),
      key_dim=16,
      value_dim=32,
      query_value_dim=32,
      mem_widths=(4, 8, 16, 16),
      fuser_dim=32,
      decoder_dim=32,
      decoder_up_dims=(16, 16),
      memory_bucket=2,
  )
  return dataclasses.replace(base, **overrides)
