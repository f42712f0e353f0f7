"""Inference: streaming videos through the network with an explicit, fixed-size state (one video, or B at a time)."""

from vosjax.inference.batched_engine import BatchedVideoSegmenter
from vosjax.inference.engine import VideoSegmenter

__all__ = ['BatchedVideoSegmenter', 'VideoSegmenter']
