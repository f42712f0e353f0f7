"""Hyper-parameters of the network, as one frozen (hashable) dataclass.

Flax modules need hashable attributes, so the ml_collections configs under `configs/` hold a `model` block whose
fields are exactly the fields below and are turned into a `ModelConfig` with `ModelConfig(**cfg.model)`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Union

# Input normalisation of an encoder, in units of [0, 1] RGB: x_encoder = (rgb - mean) / std.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_LITE_MEAN = (127.0 / 255.0,) * 3  # EfficientNet-Lite: (x - 127) / 128 on 0..255 RGB
TF_LITE_STD = (128.0 / 255.0,) * 3


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """A torchvision-layout ResNet truncated after `len(depths)` stages.

  Attributes:
    block: 'bottleneck' (ResNet-50/101) or 'basic' (ResNet-18/34).
    depths: blocks per stage; the paper's encoders stop after layer3 (stride 16), so ResNet-50 is (3, 4, 6) and
      ResNet-18 is (2, 2, 2).
    widths: the inner width of each stage (torchvision: 64, 128, 256); a bottleneck stage outputs 4x that.
    stem_width: channels of the 7x7 stem convolution.
    input_mean, input_std: the RGB normalisation the encoder's weights expect (torchvision: ImageNet's).
  """

  block: Literal['bottleneck', 'basic'] = 'bottleneck'
  depths: tuple[int, ...] = (3, 4, 6)
  widths: tuple[int, ...] = (64, 128, 256)
  stem_width: int = 64
  input_mean: tuple[float, float, float] = IMAGENET_MEAN
  input_std: tuple[float, float, float] = IMAGENET_STD

  @property
  def expansion(self) -> int:
    return 4 if self.block == 'bottleneck' else 1

  def stage_channels(self) -> tuple[int, ...]:
    return tuple(w * self.expansion for w in self.widths)


# EfficientNet-B0's stages (kernel, stride, expand ratio, output channels, repeats); Lite variants scale the
# channels and the repeats of the inner stages (TF's efficientnet_lite_builder: no squeeze-excitation, ReLU6, the
# stem and the first and last stages' repeats kept).
_B0_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
              (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
_LITE_SCALING = {'lite0': (1.0, 1.0), 'lite1': (1.0, 1.1), 'lite2': (1.1, 1.2), 'lite3': (1.2, 1.4),
                 'lite4': (1.4, 1.8)}  # (width, depth) multipliers


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
  scaled = channels * width
  rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * scaled else rounded


@dataclasses.dataclass(frozen=True)
class EfficientNetConfig:
  """An EfficientNet-Lite truncated after its last stride-16 block, with stride-4, 8 and 16 taps.

  Attributes:
    variant: 'lite0' ... 'lite4' (the ImageNet weights installed from the package index: lite0, lite1, lite2).
    input_mean, input_std: the RGB normalisation of its weights, (x - 127) / 128 on 0..255 RGB.
  """

  variant: Literal['lite0', 'lite1', 'lite2', 'lite3', 'lite4'] = 'lite0'
  input_mean: tuple[float, float, float] = TF_LITE_MEAN
  input_std: tuple[float, float, float] = TF_LITE_STD

  def __post_init__(self):
    if self.variant not in _LITE_SCALING:
      raise ValueError(f'EfficientNet variant must be one of {sorted(_LITE_SCALING)}, got {self.variant!r}')

  @property
  def stem_width(self) -> int:
    return 32  # Lite keeps the stem at 32 channels

  def blocks(self) -> tuple[tuple[int, int, int, int, int], ...]:
    """Every block up to stride 16: (kernel, stride, expand ratio, input channels, output channels)."""
    width, depth = _LITE_SCALING[self.variant]
    blocks, channels, stride_so_far = [], self.stem_width, 2
    for index, (kernel, stride, expand, out, repeats) in enumerate(_B0_STAGES):
      if stride_so_far * stride > 16:
        break
      out = _round_channels(out, width)
      if 0 < index < len(_B0_STAGES) - 1:
        repeats = int(math.ceil(depth * repeats))
      for r in range(repeats):
        blocks.append((kernel, stride if r == 0 else 1, expand, channels, out))
        channels = out
      stride_so_far *= stride
    return tuple(blocks)

  def tap_blocks(self) -> tuple[int, int, int]:
    """Indices of the last block at strides 4, 8 and 16."""
    taps, stride = {}, 2
    for index, (_, block_stride, _, _, _) in enumerate(self.blocks()):
      stride *= block_stride
      taps[stride] = index
    return taps[4], taps[8], taps[16]

  def stage_channels(self) -> tuple[int, ...]:
    blocks = self.blocks()
    return tuple(blocks[i][4] for i in self.tap_blocks())


EncoderConfig = Union[ResNetConfig, EfficientNetConfig]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Everything that shapes the network of the paper (section 3).

  Attributes:
    frame_encoder: the frame encoder F_E (paper: ResNet-50 to layer3), a ResNetConfig or an EfficientNetConfig.
    mask_encoder: the mask encoder M_E (paper: ResNet-18 to layer3), a ResNetConfig or an EfficientNetConfig.
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
    gam_first_frame: GAM only: also keep the first frame's keys and each object's values (one frame, a fixed size)
      and read them by attention as the memory bank reads its frames; GAM's D_T and that read are concatenated
      (2 C_M channels). GAM's context summarises every frame but forgets where the object was; the first frame's
      read keeps positions. An object that joins after the first frame is read from GAM's context only.
    gam_memory: GAM only: beside GAM's context, the fixed-size memory bank of `memory_recent` (and `memory_long`)
      is kept too: the first frame, the R latest stored frames and the long-term ones, stored every `memory_every`
      frames and when an object joins, read by attention and concatenated with D_T (2 C_M channels). The state
      still has a fixed size; it asks whether GAM adds to the bank's read what the bank does not have.
    memory_every: a frame enters the memory bank every this many frames (STM: 5). GAM updates every frame.
    memory_bucket: the memory bank grows its capacity in multiples of this many frames.
    memory_recent: 0 = the memory bank grows with the video; R > 0 = a fixed-size memory of the first frame and the R
      most recent stored frames (its state no longer grows: 1 + R frames whatever the video's length).
    memory_long: L extra slots of a fixed-size memory for long-term frames: every `memory_long_every`-th frame
      replaces the oldest of them (0: none). The memory then holds 1 + R + L frames.
    memory_long_every: the spacing of long-term frames, a multiple of memory_every.
    memory_top_k: 0 = the memory bank's read is a softmax over all stored positions; k > 0 = over each query
      position's k best matches only.
    memory_local_radius: 0 = a query position may match any stored position; r > 0 = in every stored frame but the
      first, only those within r cells (at stride 16) of its own position: a local window around where the object
      was in the recent frames, while the first frame is read whole.
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

  frame_encoder: EncoderConfig = ResNetConfig()
  mask_encoder: EncoderConfig = ResNetConfig(block='basic', depths=(2, 2, 2), widths=(64, 128, 256))
  mask_encoder_rgb: bool = True
  key_dim: int = 128
  value_dim: int = 512
  query_value_dim: int = 512
  key_normalization: Literal['softmax', 'mean'] = 'softmax'
  gam_temperature_init: float = 0.0
  gam_combine: Literal['concat', 'sum'] = 'concat'
  matcher: Literal['global', 'memory_bank'] = 'global'
  gam_first_frame: bool = False
  gam_memory: bool = False
  memory_every: int = 5
  memory_bucket: int = 8
  memory_recent: int = 0
  memory_long: int = 0
  memory_long_every: int = 10
  memory_top_k: int = 0
  memory_local_radius: int = 0
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
    if self.gam_first_frame and (self.matcher != 'global' or self.gam_combine != 'concat'):
      raise ValueError("gam_first_frame reads the first frame beside GAM's context: it needs matcher='global' and "
                       f"gam_combine='concat', got matcher={self.matcher!r}, gam_combine={self.gam_combine!r}")
    if self.gam_memory and (self.matcher != 'global' or self.gam_combine != 'concat' or self.gam_first_frame
                            or not self.memory_recent):
      raise ValueError("gam_memory reads a fixed-size memory bank beside GAM's context: it needs matcher='global', "
                       "gam_combine='concat', memory_recent > 0 and not gam_first_frame, got "
                       f'matcher={self.matcher!r}, gam_combine={self.gam_combine!r}, '
                       f'memory_recent={self.memory_recent}, gam_first_frame={self.gam_first_frame}')
    for encoder in (self.frame_encoder, self.mask_encoder):
      if isinstance(encoder, ResNetConfig) and len(encoder.depths) != 3:
        raise ValueError('both encoders must have exactly 3 stages (strides 4, 8, 16)')
    if self.memory_every < 1 or self.memory_bucket < 1 or self.mem_history < 1:
      raise ValueError('memory_every, memory_bucket and mem_history must be >= 1')
    if self.memory_recent < 0 or self.memory_long < 0 or self.memory_top_k < 0 or self.memory_local_radius < 0:
      raise ValueError('memory_recent, memory_long, memory_top_k and memory_local_radius must be >= 0')
    if self.memory_local_radius and self.matcher == 'global' and not self.gam_memory:
      raise ValueError('memory_local_radius windows the memory bank\'s frames after the first: it needs '
                       "matcher='memory_bank' or gam_memory, got matcher='global' with "
                       f'gam_memory={self.gam_memory} (gam_first_frame reads the first frame only)')
    if self.memory_long and (not self.memory_recent or self.memory_long_every < 1
                             or self.memory_long_every % self.memory_every):
      raise ValueError('memory_long needs a fixed-size memory (memory_recent > 0) and memory_long_every, a multiple '
                       f'of memory_every, got memory_recent={self.memory_recent}, '
                       f'memory_long_every={self.memory_long_every}, memory_every={self.memory_every}')

  def initial_memory_capacity(self, frames_to_store: int | None = None) -> int:
    """Memory-bank slots to allocate: a fixed-size memory's 1 + memory_recent (fewer if fewer frames will be
    stored), else `frames_to_store` or one bucket."""
    if self.memory_long:
      return 1 + self.memory_recent + self.memory_long
    if self.memory_recent:
      return min(1 + self.memory_recent, frames_to_store or 1 + self.memory_recent)
    return frames_to_store or self.memory_bucket

  @classmethod
  def from_dict(cls, d) -> 'ModelConfig':
    """Builds a config from a (possibly nested) mapping such as an ml_collections ConfigDict."""
    d = dict(d)
    for name in ('frame_encoder', 'mask_encoder'):
      if name in d and not isinstance(d[name], (ResNetConfig, EfficientNetConfig)):
        sub = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(d[name]).items()}
        d[name] = EfficientNetConfig(**sub) if 'variant' in sub else ResNetConfig(**sub)
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
