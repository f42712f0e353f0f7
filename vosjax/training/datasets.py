"""Building the training and validation datasets a config names (roots are checked before anything compiles)."""

from __future__ import annotations

from vosjax.data import coco_images, davis_videos, tfds_davis_videos, youtube_vos_videos
from vosjax.data.clip_sampling import ClipConfig
from vosjax.data.image_io import DatasetError
from vosjax.data.pipeline import TrainingSource
from vosjax.data.synthetic import ensure_dataset

KINDS = ('synthetic', 'davis', 'davis2016', 'youtube_vos', 'coco', 'tfds_davis')


def parse_sources(spec: str) -> list[tuple[str, int]]:
  """'davis:5,youtube_vos:1' -> [('davis', 5), ('youtube_vos', 1)]."""
  sources = []
  for item in spec.split(','):
    name, _, weight = item.strip().partition(':')
    if name not in KINDS:
      raise ValueError(f'unknown data source {name!r} in {spec!r}; known: {", ".join(KINDS)}')
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
  """The config's `data.sources` as TrainingSources (raises DatasetError naming a missing or malformed root)."""
  sources = []
  for kind, weight in parse_sources(data.sources):
    videos = _videos(kind, data, 'train')
    if not videos:
      raise DatasetError(f'data source {kind!r} has no training videos')
    sources.append(TrainingSource(kind, tuple(videos), weight))
  return sources


def validation_videos(data) -> list:
  """The videos of `data.val_source`'s val split (the first `data.val_videos`, 0 = all), or [] with no source."""
  if not data.val_source:
    return []
  videos = _videos(data.val_source, data, 'val')
  return videos[:data.val_videos] if data.val_videos else videos


def clip_config(config) -> ClipConfig:
  """The ClipConfig of `config.clip` (an ml_collections block mirroring its fields)."""
  fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.clip.to_dict().items()}
  return ClipConfig(**fields)
