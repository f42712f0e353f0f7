"""Held-out videos: a config's `data.holdout` names, carved out of a train split and never trained on."""

from __future__ import annotations

from vosjax.data.image_io import DatasetError

HOLDOUT_SPLIT = 'holdout'  # the config's held-out videos (data.holdout), carved out of the train split


def holdout_names(spec: str) -> list[str]:
  """'bear, hockey' -> ['bear', 'hockey'] (the config's `data.holdout`)."""
  return [name.strip() for name in spec.split(',') if name.strip()]


def holdout_videos(videos, spec: str) -> list:
  """The videos named in `spec`, in its order; a name the split does not hold is an error naming it."""
  names = holdout_names(spec)
  if not names:
    raise DatasetError('the holdout split is empty: name the held-out videos in config.data.holdout')
  by_name = {video.name: video for video in videos}
  missing = [name for name in names if name not in by_name]
  if missing:
    raise DatasetError(f'held-out videos {", ".join(missing)} (config.data.holdout) are not in the train split')
  return [by_name[name] for name in names]
