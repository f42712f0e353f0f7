"""What `evaluate.py` does: segment a split with a trained checkpoint and score it, or score a results folder alone.

Datasets (`config.eval.dataset`, default `config.data.val_source`) and how each split is evaluated are in
`vosjax.evaluation.eval_datasets`: scored here with the DAVIS metric (CSVs written; sparse or per-object-span ground
truth scored on its annotated frames, with a note saying so), or written as the submission zip an evaluation server
takes. `config.data.root`, if set, replaces the evaluated dataset's root.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from typing import Any, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils

from vosjax.files import workdir as workdir_layout
from vosjax.files.atomic_write import atomic_path, write_text
from vosjax.data import davis_videos
from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo
from vosjax.evaluation.baselines import make_baseline
from vosjax.evaluation.scoring import score_results
from vosjax.evaluation.split_segmentation import (SegmentationStats, frames_to_do, prepare_folder, segment_split,
                                                  stats_file)
from vosjax.inference.model_source import LoadedModel, is_shipped, load_model
from vosjax.inference.engine import VideoSegmenter
from vosjax.training.adaptation import AdaptingSegmenter, FirstFrameAdapter
from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.metrics import Summary, format_table, remove_csvs, write_csvs
from vosjax.models import ModelConfig
from vosjax.cli.progress import Progress
from vosjax.evaluation.eval_datasets import Protocol, evaluated_dataset, protocol, split_videos
from vosjax.errors import ConfigError

def _check_eval_settings(config) -> None:
  videos_per_batch = config.eval.videos_per_batch
  if videos_per_batch < 1:
    raise ConfigError(f'--config.eval.videos_per_batch: must be at least 1, got {videos_per_batch}')
  if config.eval.adapt_steps < 0:
    raise ConfigError(f'--config.eval.adapt_steps: must be at least 0, got {config.eval.adapt_steps}')
  if config.eval.adapt_steps and videos_per_batch > 1:
    raise ConfigError(f'--config.eval.adapt_steps={config.eval.adapt_steps} adapts the network to each video, so '
                      f'videos cannot share a batch: use videos_per_batch=1 (got {videos_per_batch})')


def _check_batchable(config, model_config: ModelConfig) -> None:
  """Several videos per batch need a state of fixed size (`vosjax.inference.memory_policy`)."""
  policy = MemoryPolicy.of(model_config)
  videos_per_batch = config.eval.videos_per_batch
  if videos_per_batch > 1 and not policy.fixed_size:
    raise ConfigError(f'--config.eval.videos_per_batch={videos_per_batch}: batching videos needs a state of fixed '
                      f'size (GAM, or a memory bank with memory_recent > 0); this network has {policy.describe()}, '
                      'which grows differently for each video, so segment one video at a time (videos_per_batch=1)')


def _atomic_zip(folder: str, zip_path: str, arc_root: str) -> None:
  """Zips every PNG under `folder` as `<arc_root>/<relative path>`, writing to a temporary file first."""
  with atomic_path(zip_path) as temporary, zipfile.ZipFile(temporary, 'w', zipfile.ZIP_DEFLATED) as archive:
    for directory, subdirs, files in os.walk(folder):
      subdirs[:] = sorted(d for d in subdirs if not d.startswith('.'))
      for name in sorted(files):
        if name.endswith('.png'):
          path = os.path.join(directory, name)
          archive.write(path, os.path.join(arc_root, os.path.relpath(path, folder)))


def _print_stats(stats: SegmentationStats) -> dict[str, Any]:
  gib = lambda n: f'{n / 2**30:.2f} GiB'
  device = f', peak device memory {gib(stats.peak_device_bytes)}' if stats.peak_device_bytes else ''
  resumed = f' ({stats.resumed} done by an earlier run)' if stats.resumed else ''
  print(f'Segmented {stats.frames} frames of {stats.videos} videos{resumed}: '
        f'{stats.fps_without_io:.1f} frames/s without file I/O, {stats.fps_with_io:.1f} with; '
        f'peak process memory {gib(stats.peak_host_bytes)}{device}', flush=True)
  return {'frames': stats.frames, 'videos': stats.videos, 'resumed_videos': stats.resumed,
          'fps_without_io': stats.fps_without_io, 'fps_with_io': stats.fps_with_io,
          'peak_host_bytes': stats.peak_host_bytes, 'peak_device_bytes': stats.peak_device_bytes}


def evaluate_checkpoint(config, checkpoint: str, split: str, out_dir: str | None = None) -> dict[str, Any]:
  """Segments `split` with what `checkpoint` names (`vosjax.inference.model_source`) and scores it.

  Args:
    config: the evaluation config (dataset, `eval.*`). For a workdir or a step folder its `model` block must
      describe the network the workdir trained (checked against config.json; `eval.checkpoint_step` picks a step of
      a workdir) and `eval.short_side` is the internal resolution. A shipped model brings its own network and
      resolution (`eval.short_side`, if set, overrides the latter).
    checkpoint: a shipped model's name, a training workdir or `<workdir>/checkpoints/<step>`.
    split: the split to evaluate.
    out_dir: where results go (default `<workdir>/eval/<split>`, or `eval/<name>/<split>` for a shipped model).

  Returns: the figures printed ({'J&F-Mean': ...} where scored, frames/s, peak memory, output paths).
  """
  dataset, videos = _checked_split(config, split)  # bad data fails here, before any network is loaded or compiled
  if is_shipped(checkpoint):
    loaded = load_model(checkpoint)
    short_side = config.eval.short_side or loaded.short_side
    out_dir = out_dir or os.path.join('eval', checkpoint, split)
  else:
    step = config.eval.checkpoint_step if config.eval.checkpoint_step >= 0 else None
    loaded = load_model(checkpoint, step=step, model_config=ModelConfig.from_dict(config.model.to_dict()))
    short_side = config.eval.short_side or None
    out_dir = out_dir or workdir_layout.eval_dir(loaded.workdir, split)
  return _evaluate_network(config, loaded, dataset, videos, split, os.path.abspath(out_dir), short_side)


def _checked_split(config, split: str) -> tuple[str, list[FileVideo]]:
  dataset = evaluated_dataset(config)
  _check_eval_settings(config)
  videos = split_videos(config, dataset, split)
  if not videos:
    raise DatasetError(f'the {split} split of {dataset} has no video')
  return dataset, videos


def _evaluate_network(config, loaded: LoadedModel, dataset: str, videos: Sequence[FileVideo], split: str,
                      out_dir: str, short_side: int | None) -> dict[str, Any]:
  model, described = loaded.model, loaded.described
  _check_batchable(config, model.config)
  print(f'Evaluating {described} on {dataset} {split} ({len(videos)} videos) into {out_dir}'
        f'{f" at an internal short side of {short_side}" if short_side else ""}', flush=True)
  rules = protocol(dataset, split)
  masks_dir = os.path.join(out_dir, rules.masks_subdir) if rules.masks_subdir else out_dir
  run_key = dict(loaded.source, dataset=dataset, split=split, short_side=short_side or 0, dtype=model.config.dtype)
  if config.eval.adapt_steps:
    run_key.update(adapt_steps=config.eval.adapt_steps, adapt_lr=config.eval.adapt_lr,
                   adapt_crop=config.eval.adapt_crop)
  if jax.process_index() == 0:
    prepare_folder(masks_dir, run_key)
  multihost_utils.sync_global_devices('vosjax evaluation folder ready')

  segmenter = VideoSegmenter(model, loaded.variables, short_side=short_side)
  adapter = None
  if config.eval.adapt_steps:
    adapter = FirstFrameAdapter(model, steps=config.eval.adapt_steps, learning_rate=config.eval.adapt_lr,
                                crop_size=config.eval.adapt_crop, max_objects=config.clip.max_objects)
    segmenter = AdaptingSegmenter(segmenter, adapter)
  progress = Progress(frames_to_do(videos, masks_dir), f'{dataset} {split}')
  stats = segment_split(segmenter, videos, masks_dir, first_frame_only=rules.first_frame_only,
                        on_frame=progress.update, videos_per_batch=config.eval.videos_per_batch)
  progress.close()
  results = _print_stats(stats)
  if adapter is not None and adapter.seconds:
    results['adapt_seconds_per_video'] = round(float(np.median(adapter.seconds)), 2)
    print(f'adaptation to the first frame: {adapter.steps} steps, median {results["adapt_seconds_per_video"]} s per '
          f'video (of {len(adapter.seconds)}; the first includes compiling)', flush=True)
  results.update(checkpoint=described, results_path=masks_dir)
  multihost_utils.sync_global_devices('vosjax evaluation segmented')
  if jax.process_index() != 0:
    return results
  results.update(_score_or_zip(rules, masks_dir, out_dir, videos, dataset, split, config.eval.workers))
  write_text(os.path.join(out_dir, stats_file(split)), json.dumps(results, indent=1))
  return results


def _score_or_zip(rules: Protocol, masks_dir: str, out_dir: str, videos: Sequence[FileVideo], dataset: str,
                  split: str, workers: int) -> dict[str, Any]:
  """Scores the written masks (CSVs, figures returned) or, where a server keeps the ground truth, zips them."""
  if rules.frames_scored is None:
    zip_path = os.path.join(out_dir, f'submission-{split}.zip')
    _atomic_zip(masks_dir, zip_path, rules.zip_root)
    print(f'{dataset} {split} submission: {zip_path} (upload it to the official evaluation server)', flush=True)
    return {'submission': zip_path}
  summary = score_and_report(masks_dir, videos, split, davis2016=dataset == 'davis2016', workers=workers,
                             frames=rules.frames_scored, note=rules.note)
  return dict(summary.global_results, **({'scoring_note': rules.note} if rules.note else {}))


def evaluate_baseline(config, baseline: str, split: str, out_dir: str) -> dict[str, Any]:
  """Segments `split` with a baseline (`vosjax.evaluation.baselines`) into `out_dir` and scores it like a network."""
  dataset = evaluated_dataset(config)
  rules = protocol(dataset, split)
  if rules.frames_scored is None or not rules.first_frame_only:
    raise ConfigError(f'--baseline: baselines are scored on splits with public ground truth given as a first-frame '
                      f'mask; {dataset} {split} is not one')
  videos = split_videos(config, dataset, split)
  if not videos:
    raise DatasetError(f'the {split} split of {dataset} has no video')
  out_dir = os.path.abspath(out_dir)
  print(f'Baseline {baseline} on {dataset} {split} ({len(videos)} videos) into {out_dir}', flush=True)
  prepare_folder(out_dir, {'baseline': baseline, 'dataset': dataset, 'split': split})
  progress = Progress(frames_to_do(videos, out_dir), f'{baseline} {dataset} {split}')
  stats = segment_split(make_baseline(baseline), videos, out_dir, on_frame=progress.update)
  progress.close()
  results = _print_stats(stats)
  results.update(baseline=baseline, results_path=out_dir)
  summary = score_and_report(out_dir, videos, split, davis2016=dataset == 'davis2016', workers=config.eval.workers,
                             frames=rules.frames_scored, note=rules.note)
  results.update(summary.global_results)
  write_text(os.path.join(out_dir, stats_file(split)), json.dumps(results, indent=1))
  return results


def score_and_report(results_path: str, videos: Sequence[FileVideo], split: str, *, davis2016: bool = False,
                     workers: int = 2, frames: str = 'all', note: str = '') -> Summary:
  """Scores a results folder, writes the two official CSVs into it and prints the table (a failure leaves none).

  `frames` chooses the frames scored (`vosjax.evaluation.scoring.score_video`); a `note` on how the figures were
  computed is printed and written beside the CSVs as `scoring_note-<split>.txt`.
  """
  remove_csvs(results_path, split)
  note_path = os.path.join(results_path, f'scoring_note-{split}.txt')
  if os.path.isfile(note_path):
    os.remove(note_path)
  progress = Progress(len(videos), 'scoring', unit='sequences', stream=sys.stderr)
  summary = score_results(results_path, videos, davis2016=davis2016, workers=workers, on_sequence=progress.update,
                          frames=frames)
  progress.close()
  global_csv, sequence_csv = write_csvs(summary, results_path, split)
  print(format_table(summary), flush=True)
  if note:
    write_text(note_path, note + '\n')
    print(note, flush=True)
  print(f'Wrote {global_csv} and {sequence_csv}', flush=True)
  return summary


def score_folder(results_path: str, davis_root: str, split: str, *, year: int = 2017, resolution: str = '480p',
                 workers: int = 2) -> Summary:
  """`evaluate.py --results_path R --davis_root D`: the official DAVIS figures of an existing results folder."""
  if not os.path.isdir(results_path):
    raise DatasetError(f'{results_path}: results folder not found')
  remove_csvs(results_path, split)  # also when the ground truth below turns out unreadable
  videos = davis_videos(davis_root, split, year=year, resolution=resolution)
  return score_and_report(results_path, videos, split, davis2016=year == 2016, workers=workers)
