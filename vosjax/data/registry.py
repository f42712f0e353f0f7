"""Every dataset vosjax reads, in one table: its reader, and whether it trains (`data.sources`) and evaluates
(`eval.dataset`, `data.val_source`).

`read_split(name, data, split, root='')` returns a split's videos (or images, for COCO) from the config's `data`
block; `root` replaces the dataset's configured root (evaluate.py's `data.root`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from vosjax.data.coco import coco_images
from vosjax.data.davis import davis_videos
from vosjax.data.long_video import long_video_videos
from vosjax.data.lvos import lvos_videos
from vosjax.data.mose import mose_videos
from vosjax.data.synthetic import ensure_dataset
from vosjax.data.tfds_davis import tfds_davis_videos
from vosjax.data.youtube_vos import youtube_vos_videos

DAVIS_SERVER_SPLITS = ('test-dev', 'test-challenge')  # first-frame masks only: segmented, not scored


def _davis(year: int):
  def read(data, split: str, root: str):
    return davis_videos(root or data.davis_root, split, year=year, resolution=data.davis_resolution,
                        require_all_masks=split not in DAVIS_SERVER_SPLITS)
  return read


def _youtube_vos(year: int):
  def read(data, split: str, root: str):
    root = root or (data.youtube_vos_2019_root if year == 2019 else data.youtube_vos_root)
    return youtube_vos_videos(root, 'valid' if split in ('val', 'valid') else split,
                              all_frames_root=data.youtube_vos_all_frames_root or None, year=year)
  return read


def _synthetic(data, split: str, root: str):
  return davis_videos(root or data.synthetic_root or ensure_dataset(seed=data.synthetic_seed), split,
                      source='synthetic')


@dataclasses.dataclass(frozen=True)
class Dataset:
  """read: (data config, split, root override) -> videos; training / evaluation: where the name is accepted."""

  read: Callable
  training: bool
  evaluation: bool


DATASETS = {
    'synthetic': Dataset(_synthetic, training=True, evaluation=True),
    'davis': Dataset(_davis(2017), training=True, evaluation=True),
    'davis2016': Dataset(_davis(2016), training=True, evaluation=True),
    'youtube_vos': Dataset(_youtube_vos(2018), training=True, evaluation=True),
    'youtube_vos_2019': Dataset(_youtube_vos(2019), training=False, evaluation=True),
    'mose': Dataset(lambda data, split, root: mose_videos(root or data.mose_root, split), False, True),
    'lvos': Dataset(lambda data, split, root: lvos_videos(root or data.lvos_root, split), False, True),
    'long_video': Dataset(lambda data, split, root: long_video_videos(root or data.long_video_root, split), False,
                          True),
    'coco': Dataset(lambda data, split, root: coco_images(root or data.coco_root,
                                                          'train2017' if split == 'train' else 'val2017'),
                    training=True, evaluation=False),
    'tfds_davis': Dataset(lambda data, split, root: tfds_davis_videos(split, data_dir=data.tfds_data_dir or None),
                          training=True, evaluation=False),
}
TRAINING_DATASETS = tuple(name for name, entry in DATASETS.items() if entry.training)
EVALUATION_DATASETS = tuple(name for name, entry in DATASETS.items() if entry.evaluation)


def read_split(name: str, data, split: str, root: str = ''):
  """The videos of `split` of dataset `name` (raises DatasetError naming a missing or malformed root)."""
  return DATASETS[name].read(data, split, root)
