"""The browser app's server without a browser (`vosjax.app`): opening videos, painting, propagating and correcting,
the export, resuming a workspace, and every refusal (paths, sizes, uploads, masks, crashes, foreign pages).

The network is the tiny test configuration, untrained: these tests check what the app does with masks, not their
quality (tests/test_app_browser.py tracks a shape with the shipped model)."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip('starlette', reason='the app extra is not installed (pip install -e ".[app,test]")')
from starlette.testclient import TestClient  # noqa: E402

from vosjax.app import propagation  # noqa: E402
from vosjax.app.mask_input import MaskInputError, mask_from_png  # noqa: E402
from vosjax.app.server import create_app  # noqa: E402
from vosjax.app.worker import Worker  # noqa: E402
from vosjax.app.workspace import Workspace, WorkspaceError  # noqa: E402
from vosjax.data.image_io import write_indexed_png  # noqa: E402
from vosjax.inference.engine import VideoSegmenter  # noqa: E402
from vosjax.inference.model_source import LoadedModel  # noqa: E402
from vosjax.models import VOSNet, init_variables, tiny_config  # noqa: E402

HEIGHT, WIDTH, FRAMES = 48, 64, 10
HEADERS = {'X-Vosjax': '1'}


def _frames(num_frames=FRAMES):
  """[T, H, W, 3] uint8: a bright square moving right over a striped background."""
  yy, xx = np.mgrid[:HEIGHT, :WIDTH]
  background = np.stack([(yy * 7 + xx * 3) % 200, (xx * 5) % 180 + 40, (yy * 11) % 160 + 60], -1).astype(np.uint8)
  video = np.repeat(background[None], num_frames, axis=0)
  for t in range(num_frames):
    video[t, 16:32, 4 + 3 * t:20 + 3 * t] = (230, 200, 40)
  return video


def _png(array, mode=None) -> bytes:
  buffer = io.BytesIO()
  image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
  image.save(buffer, format='PNG')
  return buffer.getvalue()


def _frames_zip(names=None) -> bytes:
  names = names or [f'frame_{t:02d}.png' for t in range(FRAMES)]
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as archive:
    for name, frame in zip(names, _frames(len(names))):
      archive.writestr(name, _png(frame))
  return buffer.getvalue()


@pytest.fixture(scope='module')
def loaded():
  model = VOSNet(tiny_config())
  return LoadedModel(model, init_variables(model), 'the tiny test network', {}, short_side=None)


@pytest.fixture(scope='module')
def segmenter(loaded):
  """One engine for every app of this module, so that its steps compile once."""
  return VideoSegmenter(loaded.model, loaded.variables, short_side=loaded.short_side)


@pytest.fixture
def app_client(tmp_path, loaded, segmenter):
  """(client, workspace) of a fresh app whose workspace holds the generated video; the worker runs."""
  clients = []

  def make(max_upload_bytes=50 * 2**20, workspace_dir=None, upload=True, max_objects=254):
    workspace = Workspace.open(str(workspace_dir or tmp_path / f'workspace{len(clients)}'), max_objects)
    app = create_app(workspace, Worker(workspace, loaded, segmenter), max_upload_bytes)
    client = TestClient(app, base_url='http://127.0.0.1', headers=HEADERS)
    client.__enter__()
    clients.append(client)
    if upload:
      response = client.post('/api/video', files=[('files', ('clip.zip', _frames_zip(), 'application/zip'))])
      assert response.status_code == 202, response.text
      _wait(client)
    return client, workspace

  yield make
  for client in clients:
    client.__exit__(None, None, None)


def _wait(client, timeout=120):
  """The status once no job runs."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    status = client.get('/api/status').json()
    if not status['busy']:
      return status
    time.sleep(0.05)
  raise AssertionError(f'the job did not end: {status["job"]}')


def _mask(client, frame):
  response = client.get(f'/api/frames/{frame}/mask')
  if response.status_code == 204:
    return None
  return np.frombuffer(response.content, np.uint8).reshape(HEIGHT, WIDTH)


def _square(t):
  ids = np.zeros((HEIGHT, WIDTH), np.uint8)
  ids[16:32, 4 + 3 * t:20 + 3 * t] = 1
  return ids


def _paint(client, frame, ids):
  response = client.put(f'/api/frames/{frame}/mask', content=ids.tobytes())
  assert response.status_code == 200, response.text


def _propagate(client, frame, direction):
  response = client.post('/api/propagate', json={'frame': frame, 'direction': direction})
  assert response.status_code == 202, response.text
  return _wait(client)


def test_open_paint_propagate_correct_and_export(app_client):
  client, workspace = app_client()
  info = client.get('/api/info').json()
  assert info['video']['num_frames'] == FRAMES and info['video']['names'][3] == 'frame_03'
  assert (info['video']['height'], info['video']['width']) == (HEIGHT, WIDTH)
  image = client.get('/api/frames/3/image')
  assert np.array_equal(np.asarray(Image.open(io.BytesIO(image.content)).convert('RGB')), _frames()[3])
  assert client.post('/api/objects', json={'name': 'square'}).json()['id'] == 1
  _paint(client, 0, _square(0))
  status = _propagate(client, 0, 'forward')
  assert status['job']['state'] == 'done' and status['job']['done'] == FRAMES - 1
  assert status['kinds'] == 'P' + 'p' * (FRAMES - 1)
  first_run = {t: _mask(client, t) for t in range(FRAMES)}
  assert all(m is not None and set(np.unique(m)) <= {0, 1} for m in first_run.values())

  # A correction on frame 5 makes the frames propagated past it stale; propagating from it replaces only those.
  _paint(client, 5, _square(5))
  assert client.get('/api/status').json()['kinds'] == 'P' + 'p' * 4 + 'P' + 's' * 4
  status = _propagate(client, 5, 'forward')
  assert status['kinds'] == 'P' + 'p' * 4 + 'P' + 'p' * 4 and status['job']['total'] == 4
  for t in range(1, 5):
    assert np.array_equal(_mask(client, t), first_run[t]), t
  assert np.array_equal(_mask(client, 5), _square(5))
  # Backward from 5 stops before the painted frame 0.
  status = _propagate(client, 5, 'backward')
  assert status['job']['total'] == 4 and status['kinds'] == 'P' + 'p' * 4 + 'P' + 'p' * 4
  assert np.array_equal(_mask(client, 0), _square(0))

  response = client.get('/api/export')
  assert response.status_code == 200 and response.headers['content-type'] == 'application/zip'
  with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
    names = set(archive.namelist())
    assert {f'masks/frame_{t:02d}.png' for t in range(FRAMES)} <= names
    assert {f'objects/1_square/frame_{t:02d}.png' for t in range(FRAMES)} <= names
    for t in range(FRAMES):
      with archive.open(f'masks/frame_{t:02d}.png') as f:
        exported = Image.open(f)
        assert exported.mode == 'P'
        assert np.array_equal(np.asarray(exported), _mask(client, t))
      with archive.open(f'objects/1_square/frame_{t:02d}.png') as f:
        assert np.array_equal(np.asarray(Image.open(f)), np.where(_mask(client, t) == 1, 255, 0))
    overlay = os.path.join(workspace.folder, 'overlay-check.mp4')
    with open(overlay, 'wb') as f:
      f.write(archive.read('overlay.mp4'))
    meta = json.loads(archive.read('objects.json'))
  capture = cv2.VideoCapture(overlay)
  assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
  capture.release()
  assert meta['objects'] == [{'id': 1, 'name': 'square', 'colour': '#800000'}]
  assert [f['state'] for f in meta['frames']] == ['painted'] + ['propagated'] * 4 + ['painted'] + ['propagated'] * 4


def test_restart_resumes_the_workspace(app_client, tmp_path):
  client, workspace = app_client(workspace_dir=tmp_path / 'kept')
  client.post('/api/objects', json={'name': 'square'})
  _paint(client, 0, _square(0))
  _propagate(client, 0, 'forward')
  kinds = client.get('/api/status').json()['kinds']
  masks = [_mask(client, t) for t in range(FRAMES)]
  client.__exit__(None, None, None)

  # A mask written by a propagation that was killed before the state was saved shows as stale on reopening.
  reopened = Workspace.open(str(tmp_path / 'kept'))
  assert reopened.kinds() == kinds and reopened.objects.to_json()[0]['name'] == 'square'
  assert all(np.array_equal(reopened.read_mask(t), masks[t]) for t in range(FRAMES))
  reopened.clear(7)
  write_indexed_png(reopened.mask_path(7), _square(7))
  again, _ = app_client(workspace_dir=tmp_path / 'kept', upload=False)
  assert again.get('/api/status').json()['kinds'] == kinds[:7] + 's' + kinds[8:]


def test_stale_frames():
  workspace = Workspace('unused')
  workspace.kind = np.array([1, 2, 2, 2, 1, 2, 2], np.int8)
  workspace.source = np.array([-1, 0, 0, 0, -1, 4, 4])
  workspace.made = np.array([1, 2, 2, 2, 3, 4, 4])
  assert workspace.kinds() == 'PpppPpp'
  workspace.made[0] = 5  # frame 0 repainted after its propagation
  assert workspace.kinds() == 'PsssPpp'
  workspace.made[0], workspace.kind[2], workspace.made[2] = 1, 1, 6  # frame 2 painted after the propagation
  assert workspace.kinds() == 'PpPsPpp'
  workspace.kind[4] = 0  # the source of frames 5 and 6 lost its mask
  assert workspace.kinds() == 'PpPs.ss'


def test_painting_a_frame_during_a_propagation_ends_it_there(app_client):
  client, workspace = app_client(upload=True)
  client.post('/api/objects', json={'name': 'square'})
  _paint(client, 0, _square(0))
  made = workspace.tick()
  assert workspace.write_propagated(3, _square(3), 0, made)
  _paint(client, 4, _square(4))
  assert not workspace.write_propagated(4, np.zeros((HEIGHT, WIDTH), np.uint8), 0, made)
  assert np.array_equal(workspace.read_mask(4), _square(4))
  assert workspace.propagation_range(0, 'forward') == [1, 2, 3]
  assert workspace.propagation_range(4, 'backward') == [3, 2, 1]
  assert workspace.propagation_range(9, 'forward') == []


def test_stop_keeps_the_frames_made(app_client, segmenter):
  client, workspace = app_client()
  client.post('/api/objects', json={'name': 'square'})
  _paint(client, 0, _square(0))

  class StopAfterThree(threading.Event):
    calls = 0

    def is_set(self):
      self.calls += 1
      return self.calls > 3

  progress = propagation.Progress()
  outcome = propagation.propagate(segmenter, workspace, 0, 'forward', progress, StopAfterThree())
  assert outcome == 'stopped' and progress.done == 3
  assert workspace.kinds() == 'Pppp' + '.' * (FRAMES - 4)
  assert json.load(open(os.path.join(workspace.folder, 'workspace.json')))['kind'][:5] == [1, 2, 2, 2, 0]


def test_a_crash_during_propagation_keeps_the_frames_before_it(app_client):
  client, workspace = app_client()
  client.post('/api/objects', json={'name': 'square'})
  _paint(client, 0, _square(0))
  with open(workspace.frame_path(6), 'wb') as f:
    f.write(b'not a png any more')
  status = _propagate(client, 0, 'forward')
  job = status['job']
  assert job['state'] == 'failed' and job['done'] == 5
  assert '00006.png' in job['error'] and 'corrupt or unreadable' in job['error']
  assert job['message'] == 'propagation stopped by an error after 5 of 9 frames (the 5 frames made before it are kept)'
  assert status['kinds'] == 'P' + 'p' * 5 + '.' * 4
  assert client.get('/api/info').status_code == 200  # the server goes on


def test_frames_are_addressed_by_index_only(app_client, tmp_path):
  client, workspace = app_client()
  assert client.get(f'/api/frames/{FRAMES}/image').status_code == 400
  assert 'does not exist' in client.get(f'/api/frames/{FRAMES}/image').json()['error']
  for path in ['/api/frames/-1/image', '/api/frames/..%2F..%2Fworkspace.json/image', '/api/frames/1/../../x',
               '/static/../workspace.json', '/static/%2e%2e/%2e%2e/workspace.json', '/api/frames/1e3/mask']:
    response = client.get(path)
    assert response.status_code == 404, path
    assert b'"format"' not in response.content
  assert client.put('/api/frames/99/mask', content=b'x').status_code == 400
  assert client.post('/api/propagate', json={'frame': '../0', 'direction': 'forward'}).status_code == 400
  assert client.post('/api/propagate', json={'frame': 0, 'direction': 'sideways'}).status_code == 400


def test_uploaded_names_never_become_paths(app_client, tmp_path):
  client, workspace = app_client(upload=False)
  names = ['../../escape_00.png', '/abs/escape_01.png', 'sub\\dir\\we ird?_02.png', '.hidden_03.png']
  response = client.post('/api/video', files=[('files', ('../../../clip.zip', _frames_zip(names), 'x'))])
  assert response.status_code == 202, response.text
  _wait(client)
  assert workspace.video.names == ('escape_00', 'escape_01', 'hidden_03', 'we_ird__02')  # cleaned, in name order
  assert sorted(os.listdir(workspace.folder)) == ['frames', 'masks', 'workspace.json']
  assert sorted(os.listdir(tmp_path)) == ['workspace0']
  assert not os.path.exists(tmp_path / 'escape_00.png')


def test_uploads_over_the_limit_are_refused(app_client):
  client, workspace = app_client(max_upload_bytes=4000, upload=False)
  response = client.post('/api/video', files=[('files', ('clip.zip', _frames_zip(), 'application/zip'))])
  assert response.status_code == 413
  error = response.json()['error']
  assert error.startswith('the upload is ') and 'bytes, over the limit of 4000 bytes' in error
  assert '--max_upload_mb' in error

  def chunks():  # no Content-Length: counted as it arrives
    yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="clip.zip"\r\n\r\n'
    for _ in range(10):
      yield b'x' * 1000
    yield b'\r\n--b--\r\n'

  response = client.post('/api/video', content=chunks(), headers={'Content-Type': 'multipart/form-data; boundary=b'})
  assert response.status_code == 413
  assert response.json()['error'].startswith('the upload is larger, over the limit of 4000 bytes')
  assert workspace.video is None and client.get('/api/info').status_code == 200


def test_files_that_are_not_videos_are_refused_with_a_message(app_client):
  client, workspace = app_client(upload=False)
  response = client.post('/api/video', files=[('files', ('notes.txt', b'hello, not a video', 'text/plain'))])
  assert response.status_code == 400
  assert response.json()['error'].startswith('notes.txt: not a video or image the app can read')
  response = client.post('/api/video', files=[('files', ('fake.jpg', b'not a jpeg', 'image/jpeg'))])
  assert response.status_code == 400 and response.json()['error'].startswith('fake.jpg: not a video or image')
  response = client.post('/api/video', files=[('files', ('frames.zip', b'PK not really', 'application/zip'))])
  assert response.status_code == 400 and 'frames.zip: not a zip' in response.json()['error']
  mixed = [('files', ('a.png', _png(_frames()[0]), 'image/png')), ('files', ('b.txt', b'text', 'text/plain'))]
  assert 'not all images (b.txt)' in client.post('/api/video', files=mixed).json()['error']
  assert workspace.video is None
  response = client.post('/api/video', files=[('files', ('clip.zip', _frames_zip(), 'application/zip'))])
  assert response.status_code == 202  # the server keeps running and takes a good upload after bad ones
  _wait(client)
  assert workspace.video.num_frames == FRAMES


def test_an_mp4_upload_is_decoded_frame_by_frame(app_client, tmp_path):
  client, workspace = app_client(upload=False)
  path = str(tmp_path / 'clip.mp4')
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 12.0, (WIDTH, HEIGHT))
  for frame in _frames():
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  with open(path, 'rb') as f:
    assert client.post('/api/video', files=[('files', ('clip.mp4', f.read(), 'video/mp4'))]).status_code == 202
  _wait(client)
  info = client.get('/api/info').json()['video']
  assert info['num_frames'] == FRAMES and info['fps'] == 12.0 and info['names'][0] == '00000'


def test_imported_png_masks(app_client):
  client, workspace = app_client(max_objects=3)
  indexed = np.zeros((HEIGHT, WIDTH), np.uint8)
  indexed[0:10, 0:10], indexed[20:30, 20:30], indexed[40:, :] = 2, 5, 255
  buffer = io.BytesIO()
  write_indexed_png(str(workspace.folder) + '/probe.png', indexed)
  with open(str(workspace.folder) + '/probe.png', 'rb') as f:
    buffer.write(f.read())
  os.remove(str(workspace.folder) + '/probe.png')

  def upload(data, frame=0, object_id=1):
    return client.post(f'/api/frames/{frame}/mask.png', files={'file': ('mask.png', data, 'image/png')},
                       data={'object': str(object_id)})

  response = upload(buffer.getvalue())
  assert response.status_code == 200 and response.json()['added_objects'] == [2, 5]
  assert set(np.unique(_mask(client, 0))) == {0, 2, 5}  # void became background
  binary = np.where(_square(2) == 1, 255, 0).astype(np.uint8)
  assert upload(_png(binary), frame=2, object_id=5).json()['note'].startswith('black-and-white mask')
  assert np.array_equal(_mask(client, 2), _square(2) * 5)
  soft = cv2.GaussianBlur(binary, (5, 5), 0)  # anti-aliased edges: thresholded, not 200 stray objects
  result = upload(_png(soft), frame=3, object_id=2).json()
  assert result['note'].startswith('grey edges thresholded at 128') and result['added_objects'] == []
  assert set(np.unique(_mask(client, 3))) == {0, 2}
  colour = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
  colour[_square(0) == 1] = (128, 0, 0)
  colour[10, 10] = (100, 0, 0)  # an anti-aliased pixel
  error = upload(_png(colour)).json()['error']
  assert 'not DAVIS palette colours' in error and 'anti-aliased' in error
  assert 'the mask is 32x16 (WxH) but the frame is 64x48' in upload(_png(binary[:16, :32])).json()['error']
  many = np.zeros((HEIGHT, WIDTH), np.uint8)
  many[0, 0:4] = (7, 8, 9, 1)
  error = upload(_png(many, 'L')).json()['error']
  assert 'more than this app takes (--max_objects 3)' in error
  assert [o['id'] for o in client.get('/api/info').json()['objects']] == [2, 5]
  assert 'holds no object' in upload(_png(np.zeros((HEIGHT, WIDTH), np.uint8))).json()['error']


def test_mask_from_png_reads_each_kind():
  size = (HEIGHT, WIDTH)
  grey = np.zeros(size, np.uint8)
  grey[5:9, 5:9] = 3
  ids, note = mask_from_png(_png(grey), 'ids.png', size, binary_id=1)
  assert np.array_equal(ids, grey) and note == 'grayscale PNG: values are object ids'
  white = np.stack([np.where(_square(1) == 1, 255, 0).astype(np.uint8)] * 3, -1)
  ids, _ = mask_from_png(_png(white), 'white.png', size, binary_id=4)
  assert np.array_equal(ids, _square(1) * 4)
  with pytest.raises(MaskInputError, match=r'notes.png: not an image the app can read'):
    mask_from_png(b'text', 'notes.png', size, binary_id=1)


def test_requests_from_other_pages_are_refused(app_client):
  client, workspace = app_client(upload=False)
  response = client.post('/api/objects', json={'name': 'x'}, headers={'X-Vosjax': ''})
  assert response.status_code == 403 and 'X-Vosjax' in response.json()['error']
  assert client.get('/api/info', headers={'Host': 'evil.example'}).status_code == 400
  assert len(workspace.objects) == 0


def test_objects_and_refusals(app_client):
  client, workspace = app_client(max_objects=2)
  assert client.post('/api/objects', json={'name': '  a\tcar '}).json()['objects'][0]['name'] == 'a car'
  assert client.post('/api/objects', json={}).json()['id'] == 2
  response = client.post('/api/objects', json={'name': 'third'})
  assert response.status_code == 400 and '--max_objects 2' in response.json()['error']
  assert client.patch('/api/objects/2', json={'name': 'dog'}).json()['objects'][1]['name'] == 'dog'
  _paint(client, 0, np.maximum(_square(0), (np.arange(WIDTH) > 60)[None].repeat(HEIGHT, 0) * 2).astype(np.uint8))
  unknown = _square(1) * 3
  response = client.put('/api/frames/1/mask', content=unknown.tobytes())
  assert response.status_code == 400 and 'object ids [3] that are not in the object list' in response.json()['error']
  assert 'must be 48x64 = 3072 bytes' in client.put('/api/frames/1/mask', content=b'12').json()['error']
  response = client.post('/api/propagate', json={'frame': 4, 'direction': 'forward'})
  assert response.status_code == 400 and 'frame 4 has no mask' in response.json()['error']
  assert client.delete('/api/objects/2').status_code == 200
  assert set(np.unique(_mask(client, 0))) == {0, 1}
  assert client.delete('/api/frames/0/mask').status_code == 200 and _mask(client, 0) is None
  with pytest.raises(WorkspaceError, match='not an app workspace'):
    Workspace.open(os.path.dirname(workspace.folder))


def _run_main(argv, capsys):
  """(exit status, stderr) of `python -m vosjax.app` with `argv`, run in this process (it fails before serving)."""
  from vosjax.app.__main__ import main
  with pytest.raises(SystemExit) as exit_info:
    main(argv)
  return exit_info.value.code, capsys.readouterr().err


def test_command_line_refusals(tmp_path, capsys):
  (tmp_path / 'mine.txt').write_text('not a workspace')
  status, err = _run_main(['--workspace', str(tmp_path)], capsys)
  assert status == 2 and err.startswith(f'vosjax.app: {tmp_path}: not an app workspace (it holds \'mine.txt\'')
  status, err = _run_main(['--workspace', str(tmp_path / 'w'), '--video', str(tmp_path / 'missing.mp4')], capsys)
  assert status == 2 and 'missing.mp4: no such video file or frame folder' in err and len(err.splitlines()) == 1
  assert _run_main(['--port', '70000'], capsys) == (2, 'vosjax.app: --port 70000: expected 0 to 65535\n')
  status, err = _run_main(['--max_objects', '300'], capsys)
  assert status == 2 and '--max_objects must be 1 to 254, got 300' in err
  assert 'unrecognized arguments: clip.mp4' in _run_main(['clip.mp4'], capsys)[1]
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    status, err = _run_main(['--workspace', str(tmp_path / 'w'), '--port', str(port)], capsys)
  assert status == 2 and f'cannot listen on 127.0.0.1:{port}' in err and 'give another --port' in err


def test_other_hosts_are_warned_about(tmp_path):
  """--host other than loopback: the app says that anyone who can reach the port can use it; Ctrl+C stops it."""
  process = subprocess.Popen([sys.executable, '-m', 'vosjax.app', '--host', '0.0.0.0', '--port', '0', '--workspace',
                              str(tmp_path / 'w')], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, 'PYTHONUNBUFFERED': '1'})
  lines = []
  for line in process.stdout:
    lines.append(line)
    if line.startswith('Open '):
      break
  process.send_signal(signal.SIGINT)
  rest, _ = process.communicate(timeout=120)
  assert process.returncode == 0, ''.join(lines) + rest
  warning = next(line for line in lines if line.startswith('WARNING'))
  assert 'listening on 0.0.0.0: anyone who can reach port' in warning and 'there is no login' in warning
  assert re.match(r'Open http://127\.0\.0\.1:\d+/ in a browser', lines[-1])
  assert rest.strip().endswith(f'Stopped; the work is kept in {tmp_path / "w"}')
