"""Propagation speed in the browser app against `vosjax.segment`'s loop, on the same video in the same process.

  python benchmarks/app_throughput.py --frames DAVIS/JPEGImages/480p/bear \\
      --mask DAVIS/Annotations/480p/bear/00000.png [--repeats 3] [--checkpoint NAME]

* segment: the loop of `python -m vosjax.segment` (frames read one by one, the engine, a DAVIS-palette PNG written
  per frame; its overlay video left out), after one untimed run that compiles.
* app: `python -m vosjax.app`'s server (uvicorn in a thread, real HTTP) over a temporary workspace holding the same
  frames: the first mask PUT as the page does, then POST /api/propagate forward from frame 0, while /api/status is
  polled four times a second as the page does. Its worker warms (compiles) when the video opens; the time that takes
  is printed, then each propagation's frames/s (from the job's start to its end, first-frame latency included), its
  first frame's latency and the slowest /api/status reply while it ran.

Both run in one process, alternately, `--repeats` times; the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import urllib.request

from vosjax.cli.xla_defaults import apply_xla_defaults


def _segment_run(segmenter, video, first_ids, out_dir) -> float:
  """frames/s of segment's loop over the whole video (the first frame's mask is given, as in segment)."""
  from vosjax.data.image_io import write_indexed_png
  from vosjax.data.user_video import user_video_stream
  began, count = time.perf_counter(), 0
  for frame, ids in segmenter.segment(user_video_stream(video, first_ids)):
    write_indexed_png(os.path.join(out_dir, f'{frame.name}.png'), ids)
    count += 1
  return count / (time.perf_counter() - began)


class _App:
  """The app's server on a free loopback port, in a thread."""

  def __init__(self, workspace_dir, loaded):
    import uvicorn
    from vosjax.app.server import create_app
    from vosjax.app.worker import Worker
    from vosjax.app.workspace import Workspace
    self.workspace = Workspace.open(workspace_dir)
    self.worker = Worker(self.workspace, loaded)
    self.listener = socket.socket()
    self.listener.bind(('127.0.0.1', 0))
    self.listener.listen(16)
    self.url = f'http://127.0.0.1:{self.listener.getsockname()[1]}'
    app = create_app(self.workspace, self.worker, 2**31)
    self.server = uvicorn.Server(uvicorn.Config(app, log_level='warning', lifespan='on'))
    self.thread = threading.Thread(target=self.server.run, kwargs={'sockets': [self.listener]}, daemon=True)
    self.thread.start()
    while not self.server.started:
      time.sleep(0.05)

  def call(self, method, path, body=None, content_type='application/json'):
    request = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={'X-Vosjax': '1', 'Content-Type': content_type})
    with urllib.request.urlopen(request, timeout=600) as response:
      return json.loads(response.read() or b'null')

  def wait_idle(self, poll_s=0.25) -> tuple[dict, float]:
    """(the final status, the slowest /api/status reply in seconds) once no job runs and the model is warm."""
    slowest = 0.0
    while True:
      began = time.perf_counter()
      status = self.call('GET', '/api/status')
      slowest = max(slowest, time.perf_counter() - began)
      if not status['busy'] and status['model']['ready']:
        return status, slowest
      time.sleep(poll_s)

  def close(self):
    self.server.should_exit = True
    self.thread.join(timeout=30)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--frames', required=True, help='a folder of frames (e.g. DAVIS JPEGImages/480p/<video>)')
  parser.add_argument('--mask', required=True, help="the first frame's mask")
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--checkpoint', default=None, help="a shipped model's name or a workdir (default: the default)")
  args = parser.parse_args()
  apply_xla_defaults()

  import numpy as np
  from vosjax.data.user_video import open_user_video, read_first_mask
  from vosjax.inference.engine import VideoSegmenter
  from vosjax.inference.model_source import load_model

  loaded = load_model(args.checkpoint)
  video = open_user_video(args.frames)
  first_ids = read_first_mask(args.mask, video)
  print(f'{args.frames}: {video.num_frames} frames, {video.width}x{video.height}; {loaded.described}, internal '
        f'short side {loaded.short_side}; CPU: {_cpu()}', flush=True)
  with tempfile.TemporaryDirectory() as scratch:
    segmenter = VideoSegmenter(loaded.model, loaded.variables, short_side=loaded.short_side)
    began = time.perf_counter()
    _segment_run(segmenter, video, first_ids, scratch)
    print(f'segment: first run (compiles) {time.perf_counter() - began:.1f}s', flush=True)

    app = _App(os.path.join(scratch, 'workspace'), loaded)
    began = time.perf_counter()
    app.worker.submit_import(video, os.path.basename(os.path.normpath(args.frames)))
    app.wait_idle()
    print(f'app: video opened and model warmed in {time.perf_counter() - began:.1f}s', flush=True)
    app.call('POST', '/api/objects', b'{"name": ""}')
    app.call('PUT', '/api/frames/0/mask', np.ascontiguousarray(first_ids).tobytes(), 'application/octet-stream')
    app.wait_idle()

    segment_fps, app_fps, first_frame, slowest_status = [], [], [], []
    for repeat in range(args.repeats):
      segment_fps.append(_segment_run(segmenter, video, first_ids, scratch))
      app.call('POST', '/api/propagate', json.dumps({'frame': 0, 'direction': 'forward'}).encode())
      status, slowest = app.wait_idle()
      job = status['job']
      assert job['state'] == 'done', job
      app_fps.append(job['done'] / job['elapsed_s'])
      first_frame.append(job['first_frame_s'])
      slowest_status.append(slowest)
      print(f'run {repeat + 1}: segment {segment_fps[-1]:.2f} frames/s; app {app_fps[-1]:.2f} frames/s '
            f'({job["done"]} frames in {job["elapsed_s"]}s, first frame after {job["first_frame_s"]}s, slowest '
            f'/api/status reply {slowest * 1000:.0f} ms)', flush=True)
    app.close()
  segment_median, app_median = statistics.median(segment_fps), statistics.median(app_fps)
  print(f'median: segment {segment_median:.2f} frames/s, app {app_median:.2f} frames/s = '
        f'{100 * app_median / segment_median:.0f}% of segment; first propagated frame after '
        f'{statistics.median(first_frame):.2f}s; slowest /api/status reply {max(slowest_status) * 1000:.0f} ms')


def _cpu() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      return next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
  except (OSError, StopIteration):
    return 'unknown'


if __name__ == '__main__':
  main()
