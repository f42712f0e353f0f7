"""grain input pipelines: training clips from several sources mixed by weight.

    MapDataset.source(entries)         entries = each source's videos, repeated `weight` times (STCN: DAVIS 5x)
      .shuffle(seed).repeat()          a new order every epoch
      .map_with_index(ClipMaker)       per-record randomness from (seed, index); the epoch drives the skip curriculum
      [shard_index::shard_count]       one slice per host
      .batch(B, drop_remainder=True)   static shapes
      .to_iter_dataset().mp_prefetch() decoding and augmentation in worker processes

Each element (a clip) is a dict of numpy arrays:
  'frames'         [T, S, S, 3] uint8 RGB (normalise with `vosjax.data.augment.normalize_frames`)
  'labels'         [T, S, S] uint8, 0 = background, k = the clip's object k (1..K); frame 0's are the given masks
                   (`first_frame_masks` turns them into [K, S, S] masks)
  'object_valid'   [K] bool, which of the K slots hold an object
  'broken_skipped' [] int32, broken videos skipped (with a warning) to produce this clip

The iterator's state (`get_state`/`set_state`) is what a checkpoint stores to resume the input exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
from typing import Protocol, Sequence

import grain
import numpy as np

from vosjax.data import frame_cache
from vosjax.data.augment import clip_transforms, colour_jitter, warp
from vosjax.data.clip_sampling import (ClipConfig, choose_objects, curriculum_epoch, max_skip_at_epoch,
                                      sample_frame_indices)
from vosjax.data.image_io import DatasetError
from vosjax.data.labels import first_frame_masks  # noqa: F401 (re-exported)
from vosjax.data.paste import paste_objects

_log = logging.getLogger(__name__)


class Video(Protocol):
  """What the clip maker needs of a video (FileVideo, TfdsVideo and CocoImage provide it)."""

  name: str
  frame_step: int

  @property
  def annotated_indices(self) -> tuple[int, ...]: ...

  def read_frame(self, index: int) -> np.ndarray: ...

  def read_mask(self, index: int, expected_size: tuple[int, int] | None = None) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class TrainingSource:
  """A dataset's videos and how many times each appears per epoch."""

  name: str
  videos: tuple
  weight: int = 1


class NoUsableClip(Exception):
  """No clip of this video has a visible object after augmentation (not an error in the data)."""


def make_clip(rng: np.random.Generator, video: Video, config: ClipConfig, epoch: int, tries: int = 5,
              donors: Sequence[Video] = ()) -> dict:
  """Samples and augments one clip of `video` (see the module docstring for the fields, without broken_skipped).

  Frames are read through `frame_cache` (decoded once per process when `config.cache_short_side` > 0). With
  `config.paste_probability` > 0, objects of random `donors` are pasted into the clip (`paste`); the clip's targets
  (up to `config.max_objects`) are then chosen among its own and the pasted objects visible in its first frame, and
  the rest stay unlabelled, as distractors.
  """
  available = video.annotated_indices
  if not available:
    raise DatasetError(f'{video.name}: no annotated frame to train on')
  max_skip = max_skip_at_epoch(config, epoch) // max(video.frame_step, 1)
  size = config.crop_size
  read = functools.partial(_read_pair, short_side=config.cache_short_side)
  for _ in range(tries):
    indices = [available[i] for i in sample_frame_indices(rng, len(available), config.num_frames, max_skip)]
    pairs = {index: read(video, index) for index in dict.fromkeys(indices)}
    first_frame, first_ids = pairs[indices[0]]
    candidates = choose_objects(rng, first_ids, config.max_objects, min_pixels=1)
    if not candidates:
      continue
    ys, xs = np.nonzero(first_ids == candidates[0])
    pick = int(rng.integers(len(ys)))
    transforms = clip_transforms(rng, config, first_frame.shape[:2], (xs[pick] + 0.5, ys[pick] + 0.5))
    frames = np.stack([warp(pairs[i][0], m, size, nearest=False) for i, m in zip(indices, transforms)])
    ids = np.stack([warp(pairs[i][1], m, size, nearest=True) for i, m in zip(indices, transforms)])
    if config.paste_probability > 0 and donors:
      frames, ids, pasted = paste_objects(rng, frames, ids, donors, read, config, max_skip)
      if pasted:  # choose the targets again, among the clip's own and the pasted objects
        candidates = choose_objects(rng, ids[0], config.max_objects, min_pixels=1)
    visible = [k for k in candidates if np.sum(ids[0] == k) >= config.min_object_pixels]
    if not visible:
      continue
    labels = np.zeros(ids.shape, np.uint8)
    for slot, object_id in enumerate(visible):
      labels[ids == object_id] = slot + 1
    return {
        'frames': colour_jitter(rng, frames, config),
        'labels': labels,
        'object_valid': np.arange(config.max_objects) < len(visible),
    }
  raise NoUsableClip(video.name)


def _read_pair(video: Video, index: int, short_side: int) -> tuple[np.ndarray, np.ndarray]:
  return frame_cache.read_pair(video, index, short_side)


class ClipMaker(grain.transforms.MapWithIndex):
  """Turns (index, video) into a clip; a broken video is skipped with a warning for another random one."""

  def __init__(self, config: ClipConfig, seed: int, entries: Sequence[Video], max_replacements: int = 20):
    self._config = config
    self._seed = seed
    self._entries = list(entries)
    self._max_replacements = max_replacements

  def map_with_index(self, index: int, video: Video) -> dict:
    rng = np.random.default_rng([self._seed, index])
    epoch = curriculum_epoch(self._config, index, len(self._entries))
    broken = 0
    for _ in range(self._max_replacements):
      try:
        clip = make_clip(rng, video, self._config, epoch, donors=self._entries)
        clip['broken_skipped'] = np.int32(broken)
        return clip
      except DatasetError as error:
        broken += 1
        _log.warning('skipping a broken video: %s', error)
      except NoUsableClip:
        pass
      video = self._entries[int(rng.integers(len(self._entries)))]
    raise RuntimeError(f'no usable clip after {self._max_replacements} videos ({broken} broken); see the warnings')


def training_entries(sources: Sequence[TrainingSource]) -> list:
  """The videos of one epoch: each source's videos repeated `weight` times."""
  entries = []
  for source in sources:
    if not source.videos:
      raise DatasetError(f'training source {source.name!r} has no videos')
    entries.extend(list(source.videos) * source.weight)
  return entries


def _leave_ctrl_c_to_the_main_process(worker_index: int, worker_count: int) -> None:
  """Runs in each worker: a terminal's Ctrl-C reaches the whole process group, and a worker killed by it would take
  the batch the training loop waits for; the main process stops between steps and saves instead."""
  del worker_index, worker_count
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def training_dataset(sources: Sequence[TrainingSource], config: ClipConfig, batch_size: int, *, seed: int = 0,
                     num_workers: int = 2, shard_index: int = 0, shard_count: int = 1,
                     worker_buffer_size: int = 2, read_threads: int = 1,
                     prefetch_batches: int = 2) -> grain.IterDataset:
  """The training input: an endless iterable of batches (dicts of [B, ...] arrays, fields as above).

  Args:
    sources: datasets and their weights.
    config: clip sampling and augmentation.
    batch_size: clips per batch on this host.
    seed: fixes the order and every random choice.
    num_workers: grain worker processes (0: decode in the main process).
    shard_index, shard_count: this host's slice of the global stream (jax.process_index(), jax.process_count()).
    worker_buffer_size: batches each worker prepares ahead.
    read_threads: threads making clips in each process (grain's default, 16, oversubscribes small machines).
    prefetch_batches: batches buffered by those threads (grain's default, 500 elements, would hold gigabytes of
      384x384 clips).
  """
  entries = training_entries(sources)
  dataset = (grain.MapDataset.source(entries).shuffle(seed=seed).repeat()
             .map_with_index(ClipMaker(config, seed, entries)))
  if shard_count > 1:
    dataset = dataset[shard_index::shard_count]
  read_options = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=prefetch_batches)
  dataset = dataset.batch(batch_size, drop_remainder=True).to_iter_dataset(read_options)
  if num_workers > 0:
    dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers,
                                                               per_worker_buffer_size=worker_buffer_size),
                                  worker_init_fn=_leave_ctrl_c_to_the_main_process)
  return dataset
