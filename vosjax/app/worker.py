"""The app's worker thread: everything slow (opening a video, compiling, propagating) runs here, one job at a time,
never in the server's event loop.

The network is loaded once and wrapped in one `VideoSegmenter`, whose compiled steps are kept for every propagation
(one compilation per frame size and object count). The worker compiles them ahead ("warming") when the model starts,
when a video is opened and when the number of objects changes, so a propagation's first frame does not wait.

A job's outcome stays visible (`snapshot()`) until the next job starts: 'done', 'stopped' or 'failed' with the
error's message. An error in a job never ends the thread.
"""

from __future__ import annotations

import dataclasses
import queue
import sys
import threading
import time
import traceback
from typing import Callable

from vosjax.app.propagation import Progress, propagate, start_frame_mask, warm
from vosjax.app.video_import import import_frames
from vosjax.app.workspace import Workspace, WorkspaceError
from vosjax.data.user_video import UserVideo
from vosjax.errors import UserError, one_line
from vosjax.inference.engine import VideoSegmenter
from vosjax.inference.model_source import LoadedModel


class WorkerBusy(UserError, RuntimeError):
  """A job was asked for while another one runs."""


@dataclasses.dataclass
class Job:
  """A job and how it went. kind: 'import', 'warm' or 'propagate'; state: 'queued', 'running', 'done', 'stopped' or
  'failed'."""

  kind: str
  params: dict
  id: int = 0
  state: str = 'queued'
  message: str = ''
  error: str = ''
  progress: Progress = dataclasses.field(default_factory=Progress)

  def to_json(self) -> dict:
    p = self.progress
    elapsed = (p.finished or time.monotonic()) - p.started if p.started else 0.0
    eta = p.eta_s()
    return {'id': self.id, 'kind': self.kind, 'state': self.state, 'message': self.message, 'error': self.error,
            'done': p.done, 'total': p.total, 'fps': round(p.fps, 2), 'eta_s': None if eta is None else round(eta, 1),
            'elapsed_s': round(elapsed, 2), 'last_frame': p.last_frame,
            'first_frame_s': None if p.first_frame_s is None else round(p.first_frame_s, 2),
            **{k: v for k, v in self.params.items() if k in ('start', 'direction')}}


class Worker:
  """Runs the app's jobs in one thread.

  Args:
    workspace: the workspace.
    loaded: the network (already loaded: a bad --checkpoint is reported before the server starts).
    segmenter: an engine over `loaded` whose compiled steps to reuse (default: a new one).
  """

  def __init__(self, workspace: Workspace, loaded: LoadedModel, segmenter: VideoSegmenter | None = None):
    self.workspace = workspace
    self.loaded = loaded
    self.segmenter = segmenter or VideoSegmenter(loaded.model, loaded.variables, short_side=loaded.short_side)
    self.model_ready = False
    self._jobs: queue.Queue[Job | None] = queue.Queue()
    self._stop = threading.Event()
    self._closing = False
    self._lock = threading.Lock()
    self._job: Job | None = None  # the current or latest user job
    self._pending_user_job = False
    self._warmed: set[tuple[int, int, int]] = set()
    self._thread = threading.Thread(target=self._run, name='vosjax-app-worker', daemon=True)

  def start(self) -> None:
    self._thread.start()
    self.request_warm()

  def close(self) -> None:
    """Stops the running job after its frame in hand and waits for the thread to end (a compilation cannot be
    interrupted: it is waited for, since a process that exits while XLA compiles in another thread aborts)."""
    self._closing = True
    self._stop.set()
    self._jobs.put(None)
    if self._thread.is_alive():
      self._thread.join()

  # -- asking for jobs (from the server)

  def submit_propagation(self, start: int, direction: str) -> None:
    """Queues a propagation (checked first: an unknown frame, a frame without mask or nothing to do is refused)."""
    frames = self.workspace.propagation_range(start, direction)
    start_frame_mask(self.workspace, start)
    if not frames:
      neighbour = 'the last frame' if direction == 'forward' else 'the first frame'
      raise WorkspaceError(f'nothing to propagate {direction} from frame {start}: it is {neighbour} or the next frame '
                       f'{direction} is painted')
    self._submit(Job('propagate', {'start': start, 'direction': direction}))

  def submit_import(self, video: UserVideo, source: str) -> None:
    self._submit(Job('import', {'video': video, 'source': source}))

  def _submit(self, job: Job) -> None:
    with self._lock:
      if self._pending_user_job:
        raise WorkerBusy(f'{self._job.kind if self._job else "a job"} is still running: press Stop or wait for it')
      self._pending_user_job = True
      self._stop.clear()
      job.id = (self._job.id + 1) if self._job else 1
      self._job = job
    self._jobs.put(job)

  def request_warm(self) -> None:
    """Compiles for the current video and object count unless already done (skipped while another job waits)."""
    self._jobs.put(Job('warm', {}))

  def stop(self) -> None:
    """Asks the running job to stop after the frame in hand (what is done is kept)."""
    self._stop.set()

  def busy(self) -> bool:
    with self._lock:
      return self._pending_user_job

  def snapshot(self) -> dict:
    """The model's state and the current or latest job, for the page."""
    with self._lock:
      job = self._job.to_json() if self._job else None
      busy = self._pending_user_job
    return {'model': {'ready': self.model_ready, 'description': self.loaded.described,
                      'short_side': self.loaded.short_side}, 'job': job, 'busy': busy}

  # -- the thread

  def _run(self) -> None:
    while True:
      job = self._jobs.get()
      if job is None:
        return
      if job.kind == 'warm':
        self._warm()
        continue
      job.state, job.progress.started = 'running', time.monotonic()
      try:
        job.state = self._import(job) if job.kind == 'import' else self._propagate(job)
      except Exception as error:  # noqa: BLE001 (the thread must survive anything a job raises)
        self._failed(job, error)
      finally:
        job.progress.finished = time.monotonic()
        with self._lock:
          self._pending_user_job = False
      self._warm()

  def _import(self, job: Job) -> str:
    video, source = job.params['video'], job.params['source']
    job.message = f'opening {source}'

    def progress(done: int, total: int) -> None:
      job.progress.total = total
      job.progress.frame_made(done - 1)

    if not import_frames(video, source, self.workspace, progress, self._stop):
      job.message = f'opening {source} was stopped; the workspace keeps its previous video'
      return 'stopped'
    job.message = f'opened {source}: {self.workspace.video.num_frames} frames'
    return 'done'

  def _propagate(self, job: Job) -> str:
    start, direction = job.params['start'], job.params['direction']
    job.message = f'propagating {direction} from frame {start}'
    outcome = propagate(self.segmenter, self.workspace, start, direction, job.progress, self._stop)
    p = job.progress
    job.message = (f'propagated {direction} from frame {start}: {p.done} of {p.total} frames'
                   + (' (stopped; the frames made are kept)' if outcome == 'stopped' else ''))
    return outcome

  def _failed(self, job: Job, error: Exception) -> None:
    if not isinstance(error, UserError):
      traceback.print_exc(file=sys.stderr)
    text = one_line(error, limit=400)
    job.error = text if isinstance(error, UserError) else f'{type(error).__name__}: {text}'
    job.state = 'failed'
    if job.kind == 'propagate':
      p = job.progress
      kept = f'the {p.done} frames made before it are kept' if p.done else 'no frame was made'
      job.message = f'propagation stopped by an error after {p.done} of {p.total} frames ({kept})'
    else:
      job.message = f'{job.kind} failed'

  def _warm(self) -> None:
    """Compiles for the workspace's video and object count if not done yet (when no user job waits)."""
    video = self.workspace.video
    if video is None or self._pending_user_job or self._closing:
      self.model_ready = self.model_ready or video is None
      return
    key = (video.height, video.width, max(1, len(self.workspace.objects)))
    if key in self._warmed:
      self.model_ready = True
      return
    self.model_ready = False
    try:
      warm(self.segmenter, *key)
      self._warmed.add(key)
    except Exception:  # noqa: BLE001 (a propagation reports the same problem with its frame)
      traceback.print_exc(file=sys.stderr)
    self.model_ready = True
