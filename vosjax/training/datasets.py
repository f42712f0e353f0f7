"""Building the training and validation datasets a config names (roots are checked before anything compiles)."""

from __future__ import annotations

from vosjax.data.clip_sampling import ClipConfig
from vosjax.data.holdout import HOLDOUT_SPLIT, holdout_names, holdout_videos
from vosjax.data.image_io import DatasetError
from vosjax.data.pipeline import TrainingSource
from vosjax.data.registry import TRAINING_DATASETS, read_split
from vosjax.data.synthetic import ensure_dataset
from vosjax.errors import ConfigError

def parse_sources(spec: str) -> list[tuple[str, int]]:
  """'davis:5,youtube_vos:1' -> [('davis', 5), ('youtube_vos', 1)]."""
  sources = []
  for item in spec.split(','):
    name, _, weight = item.strip().partition(':')
    if name not in TRAINING_DATASETS:
      raise ConfigError(f'--config.data.sources: unknown data source {name!r} in {spec!r}; known: '
                        f'{", ".join(TRAINING_DATASETS)}')
    sources.append((name, int(weight or 1)))
  return sources


def _videos(kind: str, data, split: str):
  return read_split(kind, data, split)


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
