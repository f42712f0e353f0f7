"""One propagation: the engine run over the frames after (or before) a frame, from that frame's mask.

Forward from frame t the frames t+1, t+2, ... are made up to the next frame the person painted (excluded); backward,
t-1, t-2, ... down to the previous painted frame, by streaming the frames to the engine in reverse order. Each mask
is written as soon as the engine returns it, so a Stop, an error or a kill keeps every finished frame. The engine
fetches one label map per frame from the device, the only host sync of a frame.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Iterator

import numpy as np

from vosjax.app.workspace import Workspace, WorkspaceError
from vosjax.data.eval_stream import EvalFrame
from vosjax.data.image_io import read_frame
from vosjax.inference.engine import VideoSegmenter


@dataclasses.dataclass
class Progress:
  """What the page shows of a running job (updated by the worker thread, read by the server).

  Attributes:
    done, total: frames made and to make.
    started, finished: time.monotonic() at the start and the end (0 until then).
    first_frame_s: seconds from the start to the first frame made (compilation included), or None.
    fps: frames per second since the first frame.
    last_frame: the index of the latest frame made (-1: none yet).
  """

  done: int = 0
  total: int = 0
  started: float = 0.0
  first_frame_s: float | None = None
  fps: float = 0.0
  last_frame: int = -1
  finished: float = 0.0
  _first_at: float = 0.0

  def frame_made(self, index: int) -> None:
    now = time.monotonic()
    self.done += 1
    self.last_frame = index
    if self.first_frame_s is None:
      self.first_frame_s, self._first_at = now - self.started, now
    elif now > self._first_at:
      self.fps = (self.done - 1) / (now - self._first_at)

  def eta_s(self) -> float | None:
    return (self.total - self.done) / self.fps if self.fps > 0 else None


def start_frame_mask(workspace: Workspace, start: int) -> np.ndarray:
  """The mask to propagate from, or a WorkspaceError saying why there is none."""
  ids = workspace.read_mask(start)
  if ids is None or not ids.any():
    raise WorkspaceError(f'frame {start} has no mask to propagate: paint an object on it first')
  return ids


def propagate(segmenter: VideoSegmenter, workspace: Workspace, start: int, direction: str, progress: Progress,
              stop: threading.Event) -> str:
  """Makes the masks of `workspace.propagation_range(start, direction)` from frame `start`'s mask.

  Returns:
    'done', 'stopped' (Stop pressed, or a frame in the range was painted meanwhile: the run ends before it).
  Raises whatever reading a frame or the engine raises; the frames made until then stay written.
  """
  frames = workspace.propagation_range(start, direction)
  first_ids = start_frame_mask(workspace, start)
  objects = tuple(int(i) for i in np.unique(first_ids) if i != 0)
  slots = max(len(workspace.objects), len(objects))
  progress.total = len(frames)
  made_at = workspace.tick()

  failure: list[Exception] = []  # a frame that cannot be read ends the stream; the frame in flight still lands

  def stream() -> Iterator[EvalFrame]:
    yield EvalFrame(index=0, name=str(start), image=read_frame(workspace.frame_path(start)), given_ids=first_ids,
                    new_object_ids=objects)
    for position, index in enumerate(frames, 1):
      if stop.is_set():
        return
      try:
        image = read_frame(workspace.frame_path(index))
      except Exception as error:  # noqa: BLE001 (raised again below, once the frames before it are written)
        failure.append(error)
        return
      yield EvalFrame(index=position, name=str(index), image=image, given_ids=None, new_object_ids=())

  outcome = 'done'
  try:
    for frame, ids in segmenter.segment(stream(), num_objects=slots):
      if frame.index == 0:
        continue
      index = frames[frame.index - 1]
      if not workspace.write_propagated(index, ids, start, made_at):
        outcome = 'stopped'  # painted while the run went on: frames from here on are the person's
        break
      progress.frame_made(index)
  finally:
    workspace.save()
  if failure:
    raise failure[0]
  if stop.is_set() and progress.done < progress.total:
    outcome = 'stopped'
  return outcome


def warm(segmenter: VideoSegmenter, height: int, width: int, slots: int) -> None:
  """Compiles the engine's steps for an H x W video with `slots` objects (two dummy frames), so that a propagation's
  first frame does not wait for compilation."""
  image = np.zeros((height, width, 3), np.uint8)
  ids = np.zeros((height, width), np.uint8)
  ids[: max(1, height // 4), : max(1, width // 4)] = 1
  dummy = [EvalFrame(0, 'warm', image, ids, (1,)), EvalFrame(1, 'warm', image, None, ())]
  for _ in segmenter.segment(iter(dummy), num_objects=max(1, slots)):
    pass
