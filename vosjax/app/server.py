"""The app's HTTP server (Starlette): the page, and a small JSON API over the workspace and the worker.

  GET    /                              the page (static/index.html; its script and style under /static/)
  GET    /api/info                      the video, the objects, the model, the limits
  GET    /api/status?since=V            the running job, each frame's state, the frames changed since version V
  POST   /api/video                     open an uploaded video (multipart: `files`, one video, one zip or images)
  GET    /api/frames/{i}/image          frame i as its JPEG or PNG file
  GET    /api/frames/{i}/mask           frame i's object ids: H * W bytes (gzip), or 204 without a mask
  PUT    /api/frames/{i}/mask           store H * W bytes of ids the person painted
  DELETE /api/frames/{i}/mask           remove frame i's mask
  POST   /api/frames/{i}/mask.png       import a PNG mask for frame i (multipart: `file`, and `object`: the id a
                                        black-and-white mask gets)
  POST   /api/objects                   add an object ({name}); PATCH / DELETE /api/objects/{id} rename or delete one
  POST   /api/propagate                 {frame, direction: forward | backward}
  POST   /api/stop                      stop the running job after the frame in hand
  GET    /api/export                    the export zip (`vosjax.app.export`)

Nothing slow runs in the event loop: jobs go to the worker thread, file work to Starlette's thread pool. Errors are
JSON `{"error": message}`: 400 for a request the app refuses, 409 while another job runs, 413 for a body over the
limit, 403 without the page's header (`vosjax.app.guard`), 500 for a bug.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from typing import Callable

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vosjax.app.export import export_zip
from vosjax.app.guard import RequestGuard, UploadTooLarge
from vosjax.app.mask_input import mask_from_png, mask_from_raw
from vosjax.app.objects import MAX_OBJECTS, ObjectError
from vosjax.app.video_import import open_upload
from vosjax.app.worker import Worker, WorkerBusy
from vosjax.app.workspace import Workspace, WorkspaceError
from vosjax.errors import UserError, one_line

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1', '[::1]']
MAX_UPLOAD_FILES = 100_000


class RequestError(UserError, ValueError):
  """A malformed request (the message says what is missing or wrong)."""


def create_app(workspace: Workspace, worker: Worker, max_upload_bytes: int, allowed_hosts: list[str] | None = None,
               on_start: Callable[[], None] | None = None) -> Starlette:
  """The Starlette app. `allowed_hosts`: Host headers accepted (default: loopback names only, against DNS
  rebinding; ['*'] when the app listens on other interfaces). The worker is started and closed with the app;
  `on_start` is called once the app serves (e.g. to print its address)."""
  api = _Api(workspace, worker, max_upload_bytes)

  @contextlib.asynccontextmanager
  async def lifespan(app):
    worker.start()
    if on_start is not None:
      on_start()
    yield
    worker.close()

  routes = [
      Route('/', api.page),
      Route('/api/info', api.info),
      Route('/api/status', api.status),
      Route('/api/video', api.open_video, methods=['POST']),
      Route('/api/frames/{index:int}/image', api.frame_image),
      Route('/api/frames/{index:int}/mask', api.get_mask, methods=['GET']),
      Route('/api/frames/{index:int}/mask', api.put_mask, methods=['PUT']),
      Route('/api/frames/{index:int}/mask', api.delete_mask, methods=['DELETE']),
      Route('/api/frames/{index:int}/mask.png', api.import_mask, methods=['POST']),
      Route('/api/objects', api.add_object, methods=['POST']),
      Route('/api/objects/{object_id:int}', api.change_object, methods=['PATCH', 'DELETE']),
      Route('/api/propagate', api.propagate, methods=['POST']),
      Route('/api/stop', api.stop, methods=['POST']),
      Route('/api/export', api.export),
      Mount('/static', StaticFiles(directory=STATIC_DIR), name='static'),
  ]
  middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS),
                Middleware(RequestGuard, max_body_bytes=max_upload_bytes)]
  handlers = {UserError: _user_error, Exception: _server_error}
  return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)


async def _user_error(request: Request, error: Exception) -> JSONResponse:
  status = 409 if isinstance(error, WorkerBusy) else 413 if isinstance(error, UploadTooLarge) else 400
  return JSONResponse({'error': one_line(error, limit=600)}, status_code=status)


async def _server_error(request: Request, error: Exception) -> JSONResponse:
  return JSONResponse({'error': f'the app failed ({type(error).__name__}: {one_line(error, limit=300)}); see the '
                                'server\'s terminal'}, status_code=500)


async def _json_body(request: Request) -> dict:
  try:
    body = await request.json()
  except ValueError:
    raise RequestError('the request body must be a JSON object') from None
  if not isinstance(body, dict):
    raise RequestError('the request body must be a JSON object')
  return body


class _Api:
  """The route handlers over one workspace and its worker."""

  def __init__(self, workspace: Workspace, worker: Worker, max_upload_bytes: int):
    self.workspace = workspace
    self.worker = worker
    self.max_upload_bytes = max_upload_bytes

  async def page(self, request: Request) -> Response:
    return FileResponse(os.path.join(STATIC_DIR, 'index.html'), headers={'Cache-Control': 'no-cache'})

  async def info(self, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(self._info))

  def _info(self) -> dict:
    ws = self.workspace
    with ws.lock:
      video = ws.video
      body = {'video': None, 'objects': ws.objects.to_json(), 'workspace': ws.folder,
              'limits': {'max_upload_bytes': self.max_upload_bytes, 'max_objects': ws.objects.limit},
              **self.worker.snapshot()}
    if video is not None:
      geometry = self.worker.segmenter.geometry(video.height, video.width)
      body['video'] = {'source': video.source, 'names': list(video.names), 'height': video.height,
                       'width': video.width, 'fps': video.fps, 'num_frames': video.num_frames,
                       'generation': video.generation,
                       'internal': {'height': geometry.internal[0], 'width': geometry.internal[1]}}
    return body

  async def status(self, request: Request) -> JSONResponse:
    since = request.query_params.get('since', '-1')
    try:
      since = int(since)
    except ValueError:
      raise RequestError(f'since={since!r}: expected a version number') from None
    return JSONResponse(await run_in_threadpool(self._status, since))

  def _status(self, since: int) -> dict:
    ws = self.workspace
    with ws.lock:
      body = {'version': ws.version, 'kinds': ws.kinds(), 'changed': ws.changed_since(since),
              'generation': ws.video.generation if ws.video else None, 'objects': ws.objects.to_json()}
    return {**body, **self.worker.snapshot()}

  async def open_video(self, request: Request) -> JSONResponse:
    if self.worker.busy():
      raise WorkerBusy('a job is running: press Stop or wait for it before opening another video')
    form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=10)
    uploads = [item for item in form.getlist('files') if hasattr(item, 'filename')]
    folder = self.workspace.scratch_folder('upload')
    try:
      files = await run_in_threadpool(_save_uploads, uploads, folder)
      video, source = await run_in_threadpool(open_upload, files, folder, 8 * self.max_upload_bytes)
    except BaseException:
      shutil.rmtree(folder, ignore_errors=True)
      raise
    finally:
      await form.close()
    self.worker.submit_import(video, source)
    return JSONResponse({'message': f'opening {source}: {video.num_frames} frames, {video.width}x{video.height}'},
                        status_code=202)

  def _frame(self, request: Request) -> int:
    return self.workspace.frame_index(request.path_params['index'])

  async def frame_image(self, request: Request) -> Response:
    path = self.workspace.frame_path(self._frame(request))
    return FileResponse(path, headers={'Cache-Control': 'private, max-age=86400'})

  async def get_mask(self, request: Request) -> Response:
    ids = await run_in_threadpool(self.workspace.read_mask, self._frame(request))
    if ids is None:
      return Response(status_code=204)
    body = await run_in_threadpool(gzip.compress, ids.tobytes(), 1)
    return Response(body, media_type='application/octet-stream',
                    headers={'Content-Encoding': 'gzip', 'Cache-Control': 'no-store'})

  async def put_mask(self, request: Request) -> JSONResponse:
    index = self._frame(request)
    video = self.workspace.video
    ids = mask_from_raw(await request.body(), (video.height, video.width))
    await run_in_threadpool(self.workspace.paint, index, ids)
    return JSONResponse({'frame': index, 'objects': [int(i) for i in np.unique(ids) if i]})

  async def delete_mask(self, request: Request) -> JSONResponse:
    index = self._frame(request)
    await run_in_threadpool(self.workspace.clear, index)
    return JSONResponse({'frame': index})

  async def import_mask(self, request: Request) -> JSONResponse:
    index = self._frame(request)
    form = await request.form(max_files=1, max_fields=5)
    try:
      upload = form.get('file')
      if not hasattr(upload, 'filename'):
        raise RequestError('no mask file in the request (field "file")')
      data = await upload.read()
      name = upload.filename or 'mask.png'
      binary_id = _object_id(form.get('object', '1'))
    finally:
      await form.close()
    video = self.workspace.video
    ids, note = await run_in_threadpool(mask_from_png, data, name, (video.height, video.width), binary_id)
    added = await run_in_threadpool(self.workspace.paint, index, ids, True)
    if added:
      self.worker.request_warm()
    return JSONResponse({'frame': index, 'note': note, 'added_objects': added})

  async def add_object(self, request: Request) -> JSONResponse:
    body = await _json_body(request)
    object_id = await run_in_threadpool(self.workspace.add_object, body.get('name'))
    self.worker.request_warm()
    return JSONResponse({'id': object_id, 'objects': self.workspace.objects.to_json()})

  async def change_object(self, request: Request) -> JSONResponse:
    object_id = request.path_params['object_id']
    if request.method == 'PATCH':
      body = await _json_body(request)
      await run_in_threadpool(self.workspace.rename_object, object_id, body.get('name'))
    else:
      if self.worker.busy():
        raise WorkerBusy('a job is running: press Stop or wait for it before deleting an object')
      if object_id not in self.workspace.objects:
        raise ObjectError(f'there is no object {object_id}')
      await run_in_threadpool(self.workspace.remove_object_pixels, object_id)
      self.worker.request_warm()
    return JSONResponse({'objects': self.workspace.objects.to_json()})

  async def propagate(self, request: Request) -> JSONResponse:
    body = await _json_body(request)
    frame, direction = body.get('frame'), body.get('direction')
    if not isinstance(frame, int) or isinstance(frame, bool):
      raise RequestError(f'frame {frame!r}: expected a frame number')
    if direction not in ('forward', 'backward'):
      raise RequestError(f'direction {direction!r}: expected forward or backward')
    self.worker.submit_propagation(frame, direction)
    return JSONResponse({'frame': frame, 'direction': direction}, status_code=202)

  async def stop(self, request: Request) -> JSONResponse:
    self.worker.stop()
    return JSONResponse({'stopping': self.worker.busy()})

  async def export(self, request: Request) -> Response:
    if self.workspace.video is None:
      raise WorkspaceError('no video is open; there is nothing to export')
    path = await run_in_threadpool(export_zip, self.workspace)
    return FileResponse(path, filename=os.path.basename(path), media_type='application/zip')


def _object_id(value: object) -> int:
  try:
    object_id = int(value)
  except (TypeError, ValueError):
    raise RequestError(f'object {value!r}: expected an object id') from None
  if not 1 <= object_id <= MAX_OBJECTS:
    raise ObjectError(f'object id {object_id} is out of range: ids are 1 to {MAX_OBJECTS}')
  return object_id


def _save_uploads(uploads: list, folder: str) -> list[tuple[str, str]]:
  """Copies the uploaded files under fixed names (0, 1, ... with the upload's extension) into `folder`."""
  files = []
  for number, upload in enumerate(uploads):
    extension = os.path.splitext(upload.filename or '')[1].lower()
    extension = extension if extension[1:].isalnum() and len(extension) <= 6 else ''
    path = os.path.join(folder, f'{number}{extension}')
    upload.file.seek(0)
    with open(path, 'wb') as out:
      shutil.copyfileobj(upload.file, out)
    files.append((upload.filename or f'upload{extension}', path))
  return files
