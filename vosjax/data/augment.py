"""Clip augmentation: one affine resample per frame (zoom, crop, flip and per-frame jitter composed), colour jitter.

Frames stay uint8 through the pipeline (4x less to move between processes and to the device); `normalize_frames`
applies the ImageNet normalisation where the network consumes them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from vosjax.data.clip_sampling import ClipConfig

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def normalize_frames(frames):
  """uint8 RGB [..., 3] -> float32 ImageNet-normalised; works on numpy and jax arrays."""
  return (frames.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def _matrix(scale=1.0, angle=0.0, shear=0.0, flip=False, translate=(0.0, 0.0)) -> np.ndarray:
  cos, sin = np.cos(angle), np.sin(angle)
  rotation = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
  shearing = np.array([[1, np.tan(shear), 0], [0, 1, 0], [0, 0, 1]])
  scaling = np.diag([scale * (-1 if flip else 1), scale, 1.0])
  translation = np.array([[1, 0, translate[0]], [0, 1, translate[1]], [0, 0, 1]])
  return translation @ rotation @ shearing @ scaling


def clip_transforms(rng: np.random.Generator, config: ClipConfig, image_size: tuple[int, int],
                    focus_xy: tuple[float, float]) -> list[np.ndarray]:
  """One forward affine map (input pixel -> crop pixel, 3x3) per frame.

  The clip shares a zoom, a flip and a crop centre near `focus_xy` (a point of a target in the first frame); each
  frame adds its own small rotation, shear and scale about the crop centre.
  """
  height, width = image_size
  crop = config.crop_size
  zoom = crop / min(height, width) * rng.uniform(*config.scale_range)
  flip = rng.random() < config.hflip_probability
  jitter = rng.uniform(-0.25, 0.25, size=2) * crop / zoom
  centre = np.asarray(focus_xy, np.float64) + jitter
  half = crop / zoom / 2  # keep the crop inside the image where the image is large enough
  centre[0] = np.clip(centre[0], min(half, width / 2), max(width - half, width / 2))
  centre[1] = np.clip(centre[1], min(half, height / 2), max(height - half, height / 2))
  to_centre = _matrix(translate=(-centre[0], -centre[1]))
  clip_level = _matrix(scale=zoom, flip=flip) @ to_centre
  transforms = []
  for _ in range(config.num_frames):
    per_frame = _matrix(scale=rng.uniform(*config.frame_scale_range),
                        angle=np.deg2rad(rng.uniform(-config.rotation_degrees, config.rotation_degrees)),
                        shear=np.deg2rad(rng.uniform(-config.shear_degrees, config.shear_degrees)),
                        translate=crop / 2 + rng.uniform(-1, 1, size=2) * config.frame_translate * crop)
    transforms.append(per_frame @ clip_level)
  return transforms


def warp(array: np.ndarray, forward: np.ndarray, size: int, *, nearest: bool) -> np.ndarray:
  """Resamples an [H, W] or [H, W, 3] uint8 array into a size x size crop with a forward affine map."""
  inverse = np.linalg.inv(forward)
  image = Image.fromarray(array)
  resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
  out = image.transform((size, size), Image.Transform.AFFINE, data=tuple(inverse[:2].reshape(-1)), resample=resample,
                        fillcolor=0)
  return np.asarray(out)


def colour_jitter(rng: np.random.Generator, frames: np.ndarray, config: ClipConfig) -> np.ndarray:
  """Clip-level brightness, contrast, saturation, hue (a rotation in YIQ) and grayscale on [T, H, W, 3] uint8."""
  x = frames.astype(np.float32)
  x *= 1.0 + rng.uniform(-config.brightness, config.brightness)
  mean = x.mean()
  x = (x - mean) * (1.0 + rng.uniform(-config.contrast, config.contrast)) + mean
  gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
  if rng.random() < config.grayscale_probability:
    x = np.repeat(gray[..., None], 3, axis=-1)
  else:
    x = (x - gray[..., None]) * (1.0 + rng.uniform(-config.saturation, config.saturation)) + gray[..., None]
    angle = rng.uniform(-config.hue, config.hue) * 2 * np.pi
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
    x = x @ (np.linalg.inv(to_yiq) @ rotate @ to_yiq).T.astype(np.float32)
  return np.clip(x, 0, 255).astype(np.uint8)
