"""Test-time adaptation: a few Adam steps on one video's first frame and its masks before segmenting the video.

The only labels a semi-supervised video brings are its first frame's masks. `FirstFrameAdapter` turns that frame
into pseudo-clips, as the static-image pre-training stage does (`ClipConfig.frame_translate` and the per-frame affine
jitter move the copies of the one frame; `pipeline.make_clip` samples them), and trains the network on them with the
training step (`make_train_step`: the same loss, batch-norm statistics frozen) for `steps` steps. The frame encoder
stays frozen; everything after it (keys, values, mask encoder, matcher, decoder) adapts. The video is then segmented
with the adapted variables, and the next video starts again from the trained ones. Only the objects given in the
first frame are adapted to; objects whose masks are given later (YouTube-VOS) join the adapted network as they are.

Pseudo-clips are cut at the network's own scale: the frame's shorter side is zoomed to the segmenter's internal
resolution (times 0.8-1.25) before a `crop_size` crop around one of the objects, so that the adapted heads see the
object at the size they will segment it. One compiled step serves every video (the shapes are fixed: `batch_size`
clips of `num_frames` frames, `crop_size` square, `max_objects` slots; a video with more objects adapts on random
subsets of them).

    adapter = FirstFrameAdapter(model, steps=40)
    segmenter = AdaptingSegmenter(VideoSegmenter(model, variables, short_side=360), adapter)
    for frame, ids in segmenter.segment(stream_video(video)): ...
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Iterable, Iterator

import jax
import numpy as np

from vosjax.data.clip_sampling import ClipConfig
from vosjax.data.pipeline import NoUsableClip, make_clip
from vosjax.models import VOSNet
from vosjax.training.train_state import create_train_state, make_optimizer
from vosjax.training.train_step import make_train_step


LEARNING_RATE = 2e-4  # the rate measured on the held-out videos (docs/real_video.md)


@dataclasses.dataclass(frozen=True)
class StillFrame:
  """One frame and its object ids as a one-frame video (`pipeline.Video`) for the clip maker.

  Attributes:
    frame: [H, W, 3] uint8 RGB.
    ids: [H, W] uint8 object ids (0 background).
  """

  frame: np.ndarray
  ids: np.ndarray
  name: str = 'first frame'
  frame_step: int = 1

  @property
  def annotated_indices(self) -> tuple[int, ...]:
    return (0,)

  def read_frame(self, index: int) -> np.ndarray:
    del index
    return self.frame

  def read_mask(self, index: int, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    del index, expected_size
    return self.ids


class FirstFrameAdapter:
  """Fine-tunes a network's variables on pseudo-clips of one frame and its masks (see the module docstring).

  Args:
    model: the network (its frame encoder stays frozen).
    steps: Adam steps per video (0: no adaptation).
    learning_rate: constant.
    crop_size: side of the square pseudo-clip crop.
    batch_size: pseudo-clips per step.
    num_frames: frames per pseudo-clip (the first carries the given masks, the others are trained on).
    max_objects: object slots per pseudo-clip.
    seed: the pseudo-clips' random seed (the same for every video, so a video's adaptation is reproducible).
  """

  def __init__(self, model: VOSNet, *, steps: int, learning_rate: float = LEARNING_RATE, crop_size: int = 192,
               batch_size: int = 4, num_frames: int = 3, max_objects: int = 2, seed: int = 0):
    if steps < 0 or learning_rate <= 0 or crop_size < 32 or batch_size < 1 or num_frames < 2 or max_objects < 1:
      raise ValueError(f'adaptation: steps {steps} (>= 0), learning_rate {learning_rate} (> 0), crop_size '
                       f'{crop_size} (>= 32), batch_size {batch_size} (>= 1), num_frames {num_frames} (>= 2) and '
                       f'max_objects {max_objects} (>= 1) out of range')
    self.steps = steps
    self.batch_size = batch_size
    self.seed = seed
    self.clip = ClipConfig(num_frames=num_frames, crop_size=crop_size, max_objects=max_objects, max_skip=0,
                           skip_growth=0, min_object_pixels=16, rotation_degrees=15.0, shear_degrees=10.0,
                           frame_scale_range=(0.9, 1.1), frame_translate=0.1)
    self._optimizer = make_optimizer(learning_rate, frame_encoder_lr_scale=0.0)
    self._step = jax.jit(make_train_step(model, self._optimizer, freeze_frame_encoder=True))
    self.seconds: list[float] = []  # wall time of each adaptation so far (compilation included in the first)

  def pseudo_clips(self, rng: np.random.Generator, frame: np.ndarray, ids: np.ndarray,
                   short_side: int | None) -> dict | None:
    """A batch of pseudo-clips: 'frames' [B, T, S, S, 3] uint8, 'labels' [B, T, S, S] uint8, 'object_valid' [B, K];
    None when no crop keeps an object visible (an object too small to train on)."""
    scale = (short_side or min(frame.shape[:2])) / self.clip.crop_size
    config = dataclasses.replace(self.clip, scale_range=(0.8 * scale, 1.25 * scale))
    video = StillFrame(frame, ids)
    clips = []
    for _ in range(self.batch_size):
      try:
        clips.append(make_clip(rng, video, config, epoch=0))
      except NoUsableClip:
        return None
    return {key: np.stack([clip[key] for clip in clips]) for key in ('frames', 'labels', 'object_valid')}

  def adapt(self, variables: dict, frame: np.ndarray, ids: np.ndarray, short_side: int | None) -> dict:
    """`variables` after `steps` steps on pseudo-clips of `frame` ([H, W, 3] uint8) and its `ids` ([H, W] uint8);
    the same variables where no pseudo-clip can be cut (no object, or one too small to survive a crop)."""
    began = time.perf_counter()
    rng = np.random.default_rng(self.seed)
    state = create_train_state(variables, self._optimizer)
    for _ in range(self.steps):
      batch = self.pseudo_clips(rng, frame, ids, short_side)
      if batch is None:
        break
      state, _ = self._step(state, batch)
    adapted = state.variables
    jax.block_until_ready(adapted)
    self.seconds.append(time.perf_counter() - began)
    return adapted


class AdaptingSegmenter:
  """A segmenter (`vosjax.inference.VideoSegmenter`, or anything with its `variables`, `short_side`,
  `set_variables` and `segment`) that adapts its variables to each video's first frame before segmenting it."""

  def __init__(self, segmenter, adapter: FirstFrameAdapter):
    self.segmenter = segmenter
    self.adapter = adapter
    self.trained_variables = segmenter.variables

  def segment(self, frames: Iterable, num_objects: int | None = None) -> Iterator[tuple]:
    """As `VideoSegmenter.segment`; the first frame's given masks are what the variables adapt to."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
      return
    if first.given_ids is not None:
      self.segmenter.set_variables(self.adapter.adapt(self.trained_variables, first.image, first.given_ids,
                                                      self.segmenter.short_side))
    try:
      yield from self.segmenter.segment(itertools.chain([first], frames), num_objects=num_objects)
    finally:
      self.segmenter.set_variables(self.trained_variables)
