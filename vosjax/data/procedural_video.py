"""Generated videos of any length for benchmarks: a textured background panning under textured moving objects.

Nothing is constant from frame to frame (the background pans, objects move on Lissajous paths and change size), so
a tracker's work per frame is that of a real video; frames are made one at a time (a 10,000-frame 480p video costs
the memory of one frame). Deterministic for a seed.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from vosjax.data.eval_stream import EvalFrame


def _texture(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
  """[H, W, 3] uint8 smooth colour noise: random cells upsampled bilinearly, plus fine grain."""
  coarse = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3)).astype(np.float32)
  ys = np.arange(height) / cell
  xs = np.arange(width) / cell
  y0, x0 = ys.astype(int), xs.astype(int)
  wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
  top = coarse[y0][:, x0] * (1 - wx) + coarse[y0][:, x0 + 1] * wx
  bottom = coarse[y0 + 1][:, x0] * (1 - wx) + coarse[y0 + 1][:, x0 + 1] * wx
  smooth = top * (1 - wy) + bottom * wy
  return np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


def textured_video(num_frames: int, height: int = 480, width: int = 854, num_objects: int = 1,
                   seed: int = 0) -> Iterator[EvalFrame]:
  """Yields `num_frames` EvalFrames ([H, W, 3] uint8); frame 0 carries the objects' masks (ids 1..num_objects)."""
  rng = np.random.default_rng(seed)
  margin = 64
  background = _texture(rng, height + 2 * margin, width + 2 * margin, cell=24)
  patches = [_texture(rng, height, width, cell=8) for _ in range(num_objects)]
  phases = rng.uniform(0, 2 * np.pi, (num_objects, 3))
  yy, xx = np.mgrid[:height, :width]
  for t in range(num_frames):
    dy = int(margin * (1 + np.sin(t / 97.0)))
    dx = int(margin * (1 + np.cos(t / 61.0)))
    image = background[dy:dy + height, dx:dx + width].copy()
    ids = np.zeros((height, width), np.uint8)
    for k in range(num_objects):
      cy = height * (0.5 + 0.3 * np.sin(t / 53.0 + phases[k, 0]))
      cx = width * (0.5 + 0.35 * np.sin(t / 71.0 + phases[k, 1]))
      radius = min(height, width) * (0.12 + 0.04 * np.sin(t / 37.0 + phases[k, 2]))
      inside = ((yy - cy) / radius) ** 2 + ((xx - cx) / (1.4 * radius)) ** 2 < 1.0
      image[inside] = patches[k][inside]
      ids[inside] = k + 1
    first = t == 0
    yield EvalFrame(index=t, name=f'{t:05d}', image=image, given_ids=ids if first else None,
                    new_object_ids=tuple(range(1, num_objects + 1)) if first else ())
