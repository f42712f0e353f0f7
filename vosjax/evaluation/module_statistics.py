"""What a trained network's modules actually do, measured on real frames (CAM's attention, GAM's read-out D_T).

Questions this answers:

* CAM: alpha = softplus(rho); how peaked each column of R' (Eq. 5, a distribution over C input channels) is, as its
  entropy divided by log C (1 = uniform, 0 = one-hot), its largest weight and the weight on its own channel (1 =
  identity); and how large CAM's addition alpha f_R is against its input f_in (0 = CAM does nothing).
* D_T: the share of its energy that varies across positions (per object and channel, the variance over positions
  divided by the mean square; 0 = the same vector at every position, i.e. a blur of the frame's mean), next to the
  same share for V_L; and how well it tells the object from the background: the distance between its mean over
  ground-truth object positions and over background positions, divided by the spread within each (a Fisher-like
  ratio along that direction; 0 = D_T says nothing about where the object is).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.video import FileVideo
from vosjax.inference.resolution import FrameGeometry, network_frame, network_masks
from vosjax.models import VOSNet


def _cam_statistics(attention: np.ndarray) -> dict[str, float]:
  """attention: [B', C, C], columns sum to 1 over the first axis."""
  channels = attention.shape[1]
  entropy = -np.sum(attention * np.log(np.maximum(attention, 1e-30)), axis=1)  # [B', C] per column
  return {
      'cam_entropy_ratio': float(np.mean(entropy) / np.log(channels)),
      'cam_max_weight': float(np.mean(np.max(attention, axis=1))),
      'cam_diagonal_weight': float(np.mean(np.diagonal(attention, axis1=1, axis2=2))),
      'uniform_weight': 1.0 / channels,
  }


def _spatial_share(x: np.ndarray) -> float:
  """x: [P, C] values at P positions -> sum of per-channel variance over positions / sum of mean squares."""
  return float(np.sum(np.var(x, axis=0)) / max(np.sum(np.mean(x**2, axis=0)), 1e-12))


def _separation(x: np.ndarray, foreground: np.ndarray) -> float | None:
  """|mean(fg) - mean(bg)| along their difference, over the pooled within-class spread along it."""
  if foreground.all() or not foreground.any():
    return None
  difference = x[foreground].mean(0) - x[~foreground].mean(0)
  norm = np.linalg.norm(difference)
  if norm < 1e-12:
    return 0.0
  projected = x @ (difference / norm)
  spread = np.sqrt(0.5 * (projected[foreground].var() + projected[~foreground].var()))
  return float(norm / max(spread, 1e-12))


def module_statistics(model: VOSNet, variables: dict, videos: Sequence[FileVideo], *,
                      short_side: int | None = None, max_frames: int = 30) -> dict[str, float]:
  """Runs the network over the first `max_frames` frames of each (single-object) video from its first mask.

  Returns: means over frames and videos of the statistics in the module docstring (keys prefixed cam_ and read_;
  CAM's keys only when the network has CAM, D_T's only with GAM), plus 'alpha'.
  """
  config = model.config

  @jax.jit
  def start(frame, masks):
    return model.apply(variables, frame[None], masks[None], jnp.ones((1, 1), bool), method=VOSNet.start)

  @jax.jit
  def step(state, frame):
    (state, logits), intermediates = model.apply(variables, state, frame[None], method=VOSNet.step,
                                                 mutable=['intermediates'])
    return state, intermediates['intermediates']

  rows: list[dict[str, float]] = []
  for video in videos:
    first = video.read_frame(0)
    geometry = FrameGeometry.for_frame(*first.shape[:2], short_side)
    prepare = jax.jit(lambda image: network_frame(image, geometry))
    mask = (video.read_mask(0) == 1).astype(np.float32)
    state = start(prepare(first), network_masks(jnp.asarray(mask[None]), geometry))
    for index in range(1, min(video.num_frames, max_frames)):
      state, inter = step(state, prepare(video.read_frame(index)))
      row: dict[str, float] = {}
      if config.use_cam:
        row.update(_cam_statistics(np.asarray(inter['channel_attention']['attention'][0])))
        row['cam_residual_ratio'] = float(np.mean(inter['channel_attention']['residual_ratio'][0]))
      if config.matcher == 'global':
        read = np.asarray(inter['read'][0])[0, 0]  # [h, w, C_M] of the object
        h, w = read.shape[:2]
        truth = network_masks(jnp.asarray((video.read_mask(index) == 1).astype(np.float32)[None]), geometry)[0]
        truth = np.asarray(jax.image.resize(truth, (h, w), 'linear')) > 0.5
        row['read_spatial_share'] = _spatial_share(read.reshape(h * w, -1))
        query_value = np.asarray(inter['query_value'][0])[0]
        row['value_spatial_share'] = _spatial_share(query_value.reshape(h * w, -1))
        value_separation = _separation(query_value.reshape(h * w, -1), truth.reshape(-1))
        if value_separation is not None:
          row['value_separation'] = value_separation
        separation = _separation(read.reshape(h * w, -1), truth.reshape(-1))
        if separation is not None:
          row['read_separation'] = separation
      rows.append(row)
  keys = sorted({k for row in rows for k in row})
  summary = {k: float(np.mean([row[k] for row in rows if k in row])) for k in keys}
  if config.use_cam:
    summary['alpha'] = float(jax.nn.softplus(variables['params']['channel_attention']['alpha']))
  return summary
