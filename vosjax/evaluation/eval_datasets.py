"""What `evaluate.py` can evaluate: each dataset's reader, and how a split of it is evaluated (its protocol).

  dataset            splits                    given masks         written                      scored here
  synthetic, davis,  train, val, holdout       frame 0             every frame, <out>/<seq>/    every frame (DAVIS)
  davis2016          test-dev                  frame 0             + zip, sequences at root     no (server)
  youtube_vos,       valid (test)              where objects join  meta.json's frames,          no (server)
  youtube_vos_2019                                                 <out>/Annotations/ + zip
  mose               valid                     frame 0             every frame + zip (root)     no (server)
                     train                     frame 0             every frame                  every frame
  lvos               valid                     where objects join  every frame from the first   each object's span
                     test                      where objects join  + zip under Annotations/     no (server)
  long_video         val                       frame 0             every frame                  annotated frames

The layouts and the sources they were taken from are in docs/datasets.md.
"""

from __future__ import annotations

import dataclasses

from vosjax.data.holdout import HOLDOUT_SPLIT, holdout_videos
from vosjax.data.registry import DAVIS_SERVER_SPLITS, EVALUATION_DATASETS, read_split
from vosjax.data.video import FileVideo
from vosjax.errors import ConfigError

DATASETS = EVALUATION_DATASETS
SERVER_SPLITS = {'davis': DAVIS_SERVER_SPLITS, 'youtube_vos': ('valid', 'val', 'test'),
                 'youtube_vos_2019': ('valid', 'val', 'test'), 'mose': ('valid', 'val', 'test'), 'lvos': ('test',)}

ANNOTATED_FRAMES_NOTE = ('Scored on the annotated frames only (the ground truth is sparse): per object, J and F as in '
                         'the DAVIS metric over the frames that have a mask, the first and last of them excluded, as '
                         'the official DAVIS tool scores a folder holding only the annotated frames (the protocol '
                         'XMem reports; AFB-URR\'s own scorer keeps the last annotated frame).')
OBJECT_SPANS_NOTE = ('Scored as LVOS does: each object over its own frame range of the meta file, first and last '
                     'frames excluded; J&F-Mean is the plain mean over objects (LVOS\'s server "Overall"); LVOS\'s '
                     'seen/unseen average needs its unseen-video list, which is not part of the data.')


@dataclasses.dataclass(frozen=True)
class Protocol:
  """How one split of a dataset is evaluated.

  Attributes:
    first_frame_only: only frame 0's mask is given (DAVIS); False: every object's mask where it first appears.
    frames_scored: 'all', 'annotated' or 'object_spans' (`vosjax.evaluation.scoring.score_video`), or None where the
      ground truth is kept by an evaluation server (then a submission zip is written).
    masks_subdir: where the PNGs go inside the output folder ('' or 'Annotations').
    zip_root: the folder the zip puts the sequence folders in ('' = at the zip's root), or None for no zip.
    note: how the figures were computed where that differs from the DAVIS protocol (printed and saved).
  """

  first_frame_only: bool
  frames_scored: str | None
  masks_subdir: str = ''
  zip_root: str | None = None
  note: str = ''


def evaluated_dataset(config) -> str:
  dataset = config.eval.dataset or config.data.val_source or 'davis'
  if dataset not in DATASETS:
    raise ConfigError(f'--config.eval.dataset: cannot evaluate on {dataset!r}; choose from {", ".join(DATASETS)}')
  return dataset


def protocol(dataset: str, split: str) -> Protocol:
  """The protocol of `split` of `dataset` (see the module docstring)."""
  server = split in SERVER_SPLITS.get('davis' if dataset in ('synthetic', 'davis2016') else dataset, ())
  if dataset in ('youtube_vos', 'youtube_vos_2019'):
    return Protocol(first_frame_only=False, frames_scored=None, masks_subdir='Annotations', zip_root='Annotations')
  if dataset == 'lvos':
    if server:
      return Protocol(first_frame_only=False, frames_scored=None, masks_subdir='Annotations', zip_root='Annotations')
    return Protocol(first_frame_only=False, frames_scored='object_spans', note=OBJECT_SPANS_NOTE)
  if dataset == 'long_video':
    return Protocol(first_frame_only=True, frames_scored='annotated', note=ANNOTATED_FRAMES_NOTE)
  if server:  # DAVIS test-dev, MOSE valid: sequence folders at the zip's root
    return Protocol(first_frame_only=True, frames_scored=None, zip_root='')
  return Protocol(first_frame_only=True, frames_scored='all')


def split_videos(config, dataset: str, split: str) -> list[FileVideo]:
  """The videos of a split (raises DatasetError naming a missing or malformed root).

  `split='holdout'` is the config's held-out videos (`data.holdout`), taken from the dataset's train split.
  """
  data = config.data
  if split == HOLDOUT_SPLIT:
    return holdout_videos(split_videos(config, dataset, 'train'), data.holdout)
  return read_split(dataset, config.data, split, root=data.root)
