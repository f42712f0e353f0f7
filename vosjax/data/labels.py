"""Label maps to per-object masks (numpy or jax arrays; no input-pipeline dependency)."""

from __future__ import annotations

import numpy as np


def first_frame_masks(labels, num_objects: int):
  """[..., T, S, S] labels -> [..., K, S, S] float32 masks of the objects in frame 0 (numpy or jax arrays)."""
  first = labels[..., 0, :, :]
  return (first[..., None, :, :] == np.arange(1, num_objects + 1)[:, None, None]).astype(np.float32)
