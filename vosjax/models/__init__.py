"""The network: pure Flax linen modules and the functions that run them over frames and clips."""

from vosjax.models.config import EfficientNetConfig, ModelConfig, ResNetConfig, paper_config, tiny_config
from vosjax.models.global_context import GlobalContextState
from vosjax.models.initialization import init_variables
from vosjax.models.memory_bank import MemoryBankState, ensure_capacity, grow_memory_bank, stores_frame
from vosjax.models.resnet import ResNet
from vosjax.models.unroll import memory_frames_in_clip, unroll_clip
from vosjax.models.vosnet import FrameFeatures, TrackerState, VOSNet

__all__ = [
    'EfficientNetConfig', 'FrameFeatures', 'GlobalContextState', 'MemoryBankState', 'ModelConfig', 'ResNet',
    'ResNetConfig', 'TrackerState', 'VOSNet', 'ensure_capacity', 'grow_memory_bank', 'init_variables',
    'memory_frames_in_clip', 'paper_config', 'tiny_config',
    'stores_frame', 'unroll_clip',
]
