"""MOSE reader (MOSEv1 and MOSEv2 releases; `docs/datasets.md` says what this relies on).

    <root>/<split>/JPEGImages/<video>/00000.jpg ...    split: train or valid (the README's and Cutie's layout)
    <root>/<split>/Annotations/<video>/00000.png ...   palette PNGs, ids 1..K; train: every frame, valid: frame 0
    <root>/JPEGImages/<split>/<video>/ ...             the layout of MOSE-api's own loaders, also accepted

valid is scored by the challenge server only: every target is in frame 0's mask, every frame is segmented, and the
submission zip holds `<video>/<frame>.png` for every frame with the sequence folders at its root. The optional
`meta_<split>.json` files are not needed.
"""

from __future__ import annotations

import os

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo, pair_frames_and_masks

MOSE_URL = 'https://henghuiding.github.io/MOSE/'


def _split_folders(root: str, split: str) -> tuple[str, str]:
  """(frame folder, annotation folder) of a split, in either published layout."""
  candidates = [(os.path.join(root, split, 'JPEGImages'), os.path.join(root, split, 'Annotations')),
                (os.path.join(root, 'JPEGImages', split), os.path.join(root, 'Annotations', split))]
  for frames, annotations in candidates:
    if os.path.isdir(frames) and os.path.isdir(annotations):
      return frames, annotations
  raise DatasetError(f'{root}: not a MOSE folder (missing {candidates[0][0]} and {candidates[0][1]}). Expected '
                     f'{split}/JPEGImages/<video>/ and {split}/Annotations/<video>/; MOSE is published at {MOSE_URL}')


def mose_videos(root: str, split: str = 'valid', *, source: str = 'mose') -> list[FileVideo]:
  """Lists the videos of a MOSE split, sorted by name.

  Args:
    root: the MOSE folder (holding `train/` and `valid/`).
    split: 'train' (every frame annotated: can be scored here) or 'valid' (first frame only; 'val' is accepted).
    source: the name recorded in each video.
  """
  if not os.path.isdir(root):
    raise DatasetError(f'{root}: MOSE root folder not found; MOSE is published at {MOSE_URL}')
  split = 'valid' if split == 'val' else split
  frame_root, mask_root = _split_folders(root, split)
  names = sorted(n for n in os.listdir(frame_root) if os.path.isdir(os.path.join(frame_root, n)))
  if not names:
    raise DatasetError(f'{frame_root}: no video folders')
  return [pair_frames_and_masks(name, source, os.path.join(frame_root, name), os.path.join(mask_root, name),
                                require_all_masks=split == 'train') for name in names]
