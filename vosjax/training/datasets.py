"""Building the training and validation datasets a config names (roots are checked before anything compiles)."""

from __future__ import annotations

from vosjax.data import coco_images, davis_videos, tfds_davis_videos, youtube_vos_videos
from vosjax.data.clip_sampling import ClipConfig
from vosjax.data.image_io import DatasetError
from vosjax.data.pipeline import TrainingSource
from vosjax.data.synthetic import ensure_dataset
from vosjax.user_errors import ConfigError

KINDS = ('synthetic', 'davis', 'davis2016', 'youtube_vos', 'coco', 'tfds_davis')
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


def parse_sources(spec: str) -> list[tuple[str, int]]:
  """'davis:5,youtube_vos:1' -> [('davis', 5), ('youtube_vos', 1)]."""
  sources = []
  for item in spec.split(','):
    name, _, weight = item.strip().partition(':')
    if name not in KINDS:
      raise ConfigError(f'--config.data.sources: unknown data source {name!r} in {spec!r}; known: {", ".join(KINDS)}')
    sources.append((name, int(weight or 1)))
  return sources


def _videos(kind: str, data, split: str):
  if kind == 'synthetic':
    return davis_videos(data.synthetic_root or ensure_dataset(seed=data.synthetic_seed), split, source='synthetic')
  if kind == 'davis':
    return davis_videos(data.davis_root, split, resolution=data.davis_resolution)
  if kind == 'davis2016':
    return davis_videos(data.davis_root, split, year=2016, resolution=data.davis_resolution)
  if kind == 'youtube_vos':
    return youtube_vos_videos(data.youtube_vos_root, 'train' if split == 'train' else 'valid')
  if kind == 'coco':
    return coco_images(data.coco_root, 'train2017' if split == 'train' else 'val2017')
  if kind == 'tfds_davis':
    return tfds_davis_videos(split, data_dir=data.tfds_data_dir or None)
  raise ValueError(kind)


def training_sources(data) -> list[TrainingSource]:
  """The config's `data.sources` as TrainingSources (raises DatasetError naming a missing or malformed root).

  Videos named in `data.holdout` are never trained on, whichever source lists them.
  """
  sources = []
  held_out = set(holdout_names(data.holdout))
  for kind, weight in parse_sources(data.sources):
    videos = [video for video in _videos(kind, data, 'train') if video.name not in held_out]
    if not videos:
      raise DatasetError(f'data source {kind!r} has no training videos')
    sources.append(TrainingSource(kind, tuple(videos), weight))
  return sources


def validation_videos(data) -> list:
  """The videos of `data.val_source`'s `data.val_split` (the first `data.val_videos`, 0 = all), or [] with no source.

  `data.val_split='holdout'` validates on the held-out videos of the source's train split.
  """
  if not data.val_source:
    return []
  if data.val_split == HOLDOUT_SPLIT:
    available = _videos(data.val_source, data, 'train')
    present = {video.name for video in available}
    names = holdout_names(data.holdout)
    missing = [name for name in names if name not in present]
    if missing:  # another root than the one the held-out videos were carved from: validate on what it has
      print(f'Validation: held-out videos {", ".join(missing)} (config.data.holdout) are not in this root\'s train '
            f'split; validating on the {len(names) - len(missing)} that are', flush=True)
    videos = [video for video in available if video.name in names]
    videos.sort(key=lambda video: names.index(video.name))
  else:
    videos = _videos(data.val_source, data, data.val_split)
  return videos[:data.val_videos] if data.val_videos else videos


def clip_config(config) -> ClipConfig:
  """The ClipConfig of `config.clip` (an ml_collections block mirroring its fields)."""
  fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.clip.to_dict().items()}
  return ClipConfig(**fields)
