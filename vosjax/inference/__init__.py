"""Inference: streaming videos through the network with an explicit, fixed-size state."""

from vosjax.inference.engine import VideoSegmenter

__all__ = ['VideoSegmenter']
