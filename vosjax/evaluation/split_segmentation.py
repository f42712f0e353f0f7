"""Segmenting every video of a split into a results folder: streamed, timed, resumable.

    <masks_dir>/<video>/<frame>.png       DAVIS-palette indexed PNGs at each frame's original size (atomic writes)
    <masks_dir>/.progress/<video>.json    written when a video is complete: its frame count and timings
    <masks_dir>/.progress/run.json        what produced the folder (checkpoint, resolution, dtype)

A killed run restarts with the first video that has no progress file (a video is redone from its first frame); a
folder made by another checkpoint or setting is started afresh. With several processes (`jax.distributed`), each
segments its own share of the videos (every process_count-th).

With `videos_per_batch` B > 1 the videos still to do are grouped by frame size and each group is segmented B videos
at a time in one batched step (`vosjax.inference.batched_engine`); the files written are the same.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import time
from typing import Callable, Iterator, Sequence

import jax
import numpy as np

from vosjax.files.atomic_write import write_text
from vosjax.data.eval_stream import EvalFrame, stream_video
from vosjax.data.image_io import write_indexed_png
from vosjax.data.video import FileVideo
from vosjax.inference.batched_engine import BatchedVideoSegmenter
from vosjax.inference.engine import VideoSegmenter
from vosjax.files.output_folder import remove_files
from vosjax.errors import UserError

PROGRESS_DIR = '.progress'


@dataclasses.dataclass
class SegmentationStats:
  """Totals over the videos of a split (including those a resumed run found already done).

  Attributes:
    frames: frames segmented.
    total_seconds: wall time of the segmentation, reading and writing files included.
    io_seconds: the part of it spent reading frames and masks and writing PNGs.
    videos: videos segmented; resumed: of which done by an earlier, interrupted run.
    peak_host_bytes: this process's peak resident memory (the whole process: Python, data, and on CPU the arrays).
    peak_device_bytes: the accelerator's peak allocation (None where the backend does not report it, e.g. CPU).
  """

  frames: int = 0
  total_seconds: float = 0.0
  io_seconds: float = 0.0
  videos: int = 0
  resumed: int = 0
  peak_host_bytes: int = 0
  peak_device_bytes: int | None = None

  @property
  def fps_with_io(self) -> float:
    return self.frames / self.total_seconds if self.total_seconds > 0 else 0.0

  @property
  def fps_without_io(self) -> float:
    compute = self.total_seconds - self.io_seconds
    return self.frames / compute if compute > 0 else 0.0


def peak_memory() -> tuple[int, int | None]:
  """(peak resident bytes of this process, peak bytes allocated on the first local device or None)."""
  host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
  stats = jax.local_devices()[0].memory_stats() or {}
  return host, stats.get('peak_bytes_in_use')


def _write_json_atomically(path: str, value: dict) -> None:
  write_text(path, json.dumps(value))


class OutputFolderError(UserError, ValueError):
  """An evaluation output folder that holds files this command did not write."""


def stats_file(split: str) -> str:
  """The name of an evaluation's statistics file (frames/s, memory, figures) in its output folder."""
  return f'eval_stats-{split}.json'


def _is_own(masks_dir: str, name: str) -> bool:
  """Whether `name` in an evaluation folder is something evaluate.py writes: its progress folder, its CSVs, zips,
  notes and statistics (`stats_file`), or a sequence folder holding only PNGs."""
  path = os.path.join(masks_dir, name)
  if name == PROGRESS_DIR:
    return True
  if os.path.isfile(path):
    return name.endswith(('.csv', '.zip')) or (name.startswith('eval_stats-') and name.endswith('.json')) or (
        name.startswith('scoring_note') and name.endswith('.txt'))
  return os.path.isdir(path) and all(entry.endswith('.png') and os.path.isfile(os.path.join(path, entry))
                                     for entry in os.listdir(path))


def prepare_folder(masks_dir: str, run_key: dict) -> None:
  """Makes `masks_dir` ready for a run described by `run_key`.

  The same run's folder is kept (a killed evaluation resumes). A folder of another run has its own files removed;
  a folder holding anything evaluate.py does not write is refused, in one line naming those files, and left as it is.
  """
  progress = os.path.join(masks_dir, PROGRESS_DIR)
  key_path = os.path.join(progress, 'run.json')
  previous = None
  if os.path.isfile(key_path):
    with open(key_path) as f:
      previous = json.load(f)
    if previous == run_key:
      return
  if os.path.isdir(masks_dir):
    foreign = sorted(name for name in os.listdir(masks_dir) if not _is_own(masks_dir, name))
    if foreign:
      raise OutputFolderError(f'{masks_dir}: the output folder holds files evaluate.py did not write '
                              f'({", ".join(foreign[:5])}); choose another --out or move them')
    if previous is not None:
      print(f'{masks_dir} holds results of another run ({previous}); replacing them', flush=True)
      remove_files(masks_dir, os.listdir(masks_dir))
  os.makedirs(progress, exist_ok=True)
  _write_json_atomically(key_path, run_key)


def _timed(frames: Iterator[EvalFrame], clock: list[float]) -> Iterator[EvalFrame]:
  """Passes frames through, adding the time spent producing each (reading files) to clock[0]."""
  while True:
    began = time.perf_counter()
    frame = next(frames, None)
    clock[0] += time.perf_counter() - began
    if frame is None:
      return
    yield frame


def _video_objects(video: FileVideo, first_frame_only: bool) -> int:
  """Object slots a video needs: the ids of its first mask, or of all its given masks (those of `given_frames` where
  the folder holds every frame's ground truth, as `stream_video` gives them)."""
  indices = video.annotated_indices[:1] if first_frame_only else video.annotated_indices
  if not first_frame_only and video.given_frames is not None:
    given = set(video.given_frames)
    indices = tuple(i for i in indices if video.frame_names[i] in given)
  ids: set[int] = set()
  for index in indices:
    mask = video.read_mask(index)
    ids |= {int(i) for i in np.unique(mask) if i not in (0, 255)}
  return max(len(ids), 1)


def _marker(masks_dir: str, video: FileVideo) -> str:
  return os.path.join(masks_dir, PROGRESS_DIR, f'{video.name}.json')


def this_process_videos(videos: Sequence[FileVideo]) -> Sequence[FileVideo]:
  """The share of the videos this process segments (all of them with one process)."""
  return videos[jax.process_index()::jax.process_count()]


def frames_to_do(videos: Sequence[FileVideo], masks_dir: str) -> int:
  """Frames of this process's videos that an earlier run has not finished."""
  return sum(v.num_frames for v in this_process_videos(videos) if not os.path.isfile(_marker(masks_dir, v)))


def segment_split(segmenter: VideoSegmenter, videos: Sequence[FileVideo], masks_dir: str, *,
                  first_frame_only: bool = True, on_frame: Callable[[int], None] | None = None,
                  videos_per_batch: int = 1) -> SegmentationStats:
  """Segments the videos into `masks_dir` (see the module docstring); call `prepare_folder` first.

  Args:
    segmenter: the engine.
    videos: the split's videos; a video's `output_frames`, if set, are the only frames written (YouTube-VOS).
    first_frame_only: DAVIS semi-supervised (frame 0's mask only); False uses every given mask (YouTube-VOS valid,
      where objects join where they first appear).
    on_frame: called with the number of frames segmented so far by this run (for a progress display; videos an
      earlier run finished are not counted).
    videos_per_batch: videos segmented together in one batched step (GAM only; see the module docstring).
  """
  stats = SegmentationStats()
  mine = this_process_videos(videos)
  records = {}
  for video in mine:
    marker = _marker(masks_dir, video)
    if os.path.isfile(marker):
      with open(marker) as f:
        records[video.name] = json.load(f)
      stats.resumed += 1
  pending = [video for video in mine if video.name not in records]
  report = on_frame or (lambda n: None)
  if videos_per_batch > 1:
    records.update(_segment_batched(segmenter, pending, masks_dir, first_frame_only, report, videos_per_batch))
  else:
    # Every video gets the split's largest object count, so the step compiles once per frame size, not once per
    # object count (padded slots cost their share of the per-object work).
    slots = max((_video_objects(video, first_frame_only) for video in pending), default=0)
    done_frames = 0
    for video in pending:
      record = _segment_video(segmenter, video, masks_dir, first_frame_only, lambda n: report(done_frames + n),
                              slots)
      _write_json_atomically(_marker(masks_dir, video), record)
      records[video.name] = record
      done_frames += record['frames']
  for video in mine:
    record = records[video.name]
    stats.videos += 1
    stats.frames += record['frames']
    stats.total_seconds += record['total_seconds']
    stats.io_seconds += record['io_seconds']
  stats.peak_host_bytes, stats.peak_device_bytes = peak_memory()
  return stats


def _segment_video(segmenter: VideoSegmenter, video: FileVideo, masks_dir: str, first_frame_only: bool,
                   on_frame: Callable[[int], None], num_objects: int) -> dict:
  began = time.perf_counter()
  io_clock = [0.0]
  wanted = set(video.output_frames) if video.output_frames is not None else None
  frames = _timed(stream_video(video, first_frame_only=first_frame_only), io_clock)
  count = 0
  for frame, ids in segmenter.segment(frames, num_objects=num_objects):
    if wanted is None or frame.name in wanted:
      write_began = time.perf_counter()
      write_indexed_png(os.path.join(masks_dir, video.name, f'{frame.name}.png'), ids)
      io_clock[0] += time.perf_counter() - write_began
    count += 1
    on_frame(count)
  return {'frames': count, 'total_seconds': time.perf_counter() - began, 'io_seconds': io_clock[0]}


def _segment_batched(segmenter: VideoSegmenter, videos: Sequence[FileVideo], masks_dir: str, first_frame_only: bool,
                     on_frame: Callable[[int], None], videos_per_batch: int) -> dict[str, dict]:
  """Segments `videos` B at a time, grouped by frame size; returns each video's record (also written as its marker).

  A video's `total_seconds` is its share of the batched steps (each step's time split over the slots in use) plus
  its own file I/O, so that the records of a split add up to its wall time.
  """
  batched = BatchedVideoSegmenter(segmenter, videos_per_batch)
  groups: dict[tuple[int, int], list[FileVideo]] = {}
  for video in videos:
    groups.setdefault(video.frame_size(), []).append(video)
  records: dict[str, dict] = {}
  done_frames = 0
  for frame_size, group in groups.items():
    by_name = {video.name: video for video in group}
    num_objects = max(_video_objects(video, first_frame_only) for video in group)
    clocks = {video.name: [0.0] for video in group}  # file I/O seconds per video
    counts = {video.name: 0 for video in group}
    seconds = {video.name: 0.0 for video in group}
    streams = ((video.name, _timed(stream_video(video, first_frame_only=first_frame_only), clocks[video.name]))
               for video in group)
    for output in batched.segment(streams, num_objects, frame_size):
      name = output.key
      video = by_name[name]
      if output.finished:
        record = {'frames': counts[name], 'total_seconds': seconds[name] + clocks[name][0],
                  'io_seconds': clocks[name][0]}
        _write_json_atomically(_marker(masks_dir, video), record)
        records[name] = record
        continue
      wanted = video.output_frames
      if wanted is None or output.frame.name in wanted:
        write_began = time.perf_counter()
        write_indexed_png(os.path.join(masks_dir, name, f'{output.frame.name}.png'), output.ids)
        clocks[name][0] += time.perf_counter() - write_began
      seconds[name] += output.step_seconds
      counts[name] += 1
      done_frames += 1
      on_frame(done_frames)
  return records
