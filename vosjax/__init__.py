"""vosjax: real-time high-resolution video object segmentation (global attention, CAM, MEM) in JAX/Flax."""

__version__ = '0.1.0'
