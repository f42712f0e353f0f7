"""The browser app end to end in a real browser: Debian's headless Chromium driven by Selenium paints the first mask
of a generated video with the mouse, propagates with the shipped model, checks the masks against the moving shape,
corrects a later frame, propagates again, and downloads the export; a bad upload shows its message on the page. Any
other error in the browser's console fails it.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium chromium-driver`; .ci/run installs
them); skipped without them."""

import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
  pytest.skip(f'{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)',
              allow_module_level=True)
pytest.importorskip('starlette', reason='the app extra is not installed (pip install -e ".[app,test]")')
webdriver = pytest.importorskip('selenium.webdriver', reason='selenium (the test extra) is not installed')
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEIGHT, WIDTH, FRAMES, STEP = 120, 160, 12, 4  # the shape moves STEP pixels a frame
# The shipped model tracks this shape with IoU 0.88-0.96 on every frame (measured from the mask this test paints);
# the bar is well below that and far above what losing the shape gives (0.0-0.3).
MIN_IOU = 0.8
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--window-size=1300,900')


def _smooth_noise(rng, cell):
  """[H, W, 3] float32 colour noise: random values on a grid of `cell` pixels, upsampled bilinearly."""
  coarse = rng.uniform(0, 255, (HEIGHT // cell + 2, WIDTH // cell + 2, 3)).astype(np.float32)
  return cv2.resize(coarse, (WIDTH + 2 * cell, HEIGHT + 2 * cell), interpolation=cv2.INTER_LINEAR)[
      cell:cell + HEIGHT, cell:cell + WIDTH]


def _shape(t):
  """[H, W] bool: the object at frame t, an upright ellipse moving right."""
  yy, xx = np.mgrid[:HEIGHT, :WIDTH]
  return ((yy - HEIGHT * 0.5) / (HEIGHT * 0.25)) ** 2 + ((xx - (WIDTH * 0.3 + STEP * t)) / (HEIGHT * 0.18)) ** 2 < 1


def _write_video(folder):
  """A dim textured background with a warm textured ellipse moving over it, as PNG frames."""
  rng = np.random.default_rng(0)
  background = 0.6 * np.clip(_smooth_noise(rng, 20) + rng.normal(0, 12, (HEIGHT, WIDTH, 3)), 0, 255)
  texture = np.clip(_smooth_noise(rng, 6) * [1.0, 0.7, 0.3] + [90, 40, 0], 0, 255)
  os.makedirs(folder)
  for t in range(FRAMES):
    frame = np.where(_shape(t)[..., None], texture, background).astype(np.uint8)
    Image.fromarray(frame).save(os.path.join(folder, f'shot_{t:02d}.png'))


def _iou(a, b):
  return (a & b).sum() / max((a | b).sum(), 1)


class _Server:
  """`python -m vosjax.app` in a subprocess, on a free port."""

  def __init__(self, video, workspace):
    env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'PYTHONUNBUFFERED': '1'}
    self.process = subprocess.Popen([sys.executable, '-m', 'vosjax.app', '--video', video, '--workspace', workspace,
                                     '--port', '0'], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    self.lines = []
    for line in self.process.stdout:
      self.lines.append(line)
      found = re.search(r'Open (http://\S+/) in a browser', line)
      if found:
        self.url = found.group(1)
        return
    raise AssertionError(f'the app did not start:\n{"".join(self.lines)}')

  def get(self, path):
    with urllib.request.urlopen(self.url.rstrip('/') + path, timeout=30) as response:
      body = response.read()
      return response.status, gzip.decompress(body) if response.headers['Content-Encoding'] == 'gzip' else body

  def status(self):
    return json.loads(self.get('/api/status')[1])

  def mask(self, frame):
    status, body = self.get(f'/api/frames/{frame}/mask')
    return None if status == 204 else np.frombuffer(body, np.uint8).reshape(HEIGHT, WIDTH)

  def wait(self, condition, what, timeout=900):  # generous: compilation on a busy 2-core machine takes minutes
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      status = self.status()
      if condition(status):
        return status
      time.sleep(0.1)
    raise AssertionError(f'timed out waiting for {what}: {status}')

  def stop(self):
    self.process.send_signal(signal.SIGINT)
    try:
      output, _ = self.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
      self.process.kill()
      output, _ = self.process.communicate()
    return ''.join(self.lines) + output


@pytest.fixture
def browser(tmp_path):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in CHROMIUM_FLAGS:
    options.add_argument(flag)
  options.add_argument(f'--user-data-dir={tmp_path / "chromium-profile"}')
  options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
  driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
  driver.execute_cdp_cmd('Page.setDownloadBehavior', {'behavior': 'allow', 'downloadPath': str(tmp_path / 'dl')})
  yield driver
  driver.quit()


def _stroke(driver, y, x0, x1):
  """One mouse stroke on the mask canvas along row y from column x0 to x1 (frame pixels)."""
  canvas = driver.find_element(By.ID, 'mask-canvas')
  scale = canvas.size['width'] / WIDTH  # screen pixels per frame pixel

  def offset(x):  # Selenium's offsets are from the element's centre
    return round((x + 0.5) * scale - canvas.size['width'] / 2), round((y + 0.5) * scale - canvas.size['height'] / 2)

  actions = ActionChains(driver, duration=10)
  actions.move_to_element_with_offset(canvas, *offset(x0)).click_and_hold()
  actions.move_to_element_with_offset(canvas, *offset(x1)).release().perform()


def _paint_shape(driver, shape):
  """Paints `shape` ([H, W] bool) with the brush: horizontal strokes across it, the brush kept inside it."""
  radius = int(driver.find_element(By.ID, 'brush-size').get_attribute('value'))
  rows = np.flatnonzero(shape.any(axis=1))
  for y in range(rows[0] + radius, rows[-1] - radius + 1, max(1, radius)):
    columns = np.flatnonzero(shape[y])
    if columns[-1] - radius >= columns[0] + radius:
      _stroke(driver, y, columns[0] + radius, columns[-1] - radius)


def _severe_console_entries(driver):
  return [entry for entry in driver.get_log('browser') if entry['level'] == 'SEVERE']


def test_paint_propagate_correct_and_export_in_a_real_browser(tmp_path, browser):
  began = time.monotonic()
  _write_video(str(tmp_path / 'video'))
  server = _Server(str(tmp_path / 'video'), str(tmp_path / 'workspace'))
  try:
    driver = browser
    driver.get(server.url)
    server.wait(lambda s: s['model']['ready'] and not s['busy'] and s['objects'], 'the video and the model')
    driver.find_element(By.CSS_SELECTOR, 'body[data-ready="1"]')

    # 0. A file that is neither a video nor an image: the page names the problem and the server goes on.
    (tmp_path / 'notes.txt').write_text('not a video')
    driver.find_element(By.ID, 'open-file').send_keys(str(tmp_path / 'notes.txt'))
    message = WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, '#message.error'))
    assert message.text.startswith('notes.txt: not a video or image the app can read'), message.text
    expected_errors = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']
    assert len(expected_errors) == 1 and '/api/video' in expected_errors[0]['message']  # the refused upload's 400

    # 1. The first mask, painted with the mouse.
    _paint_shape(driver, _shape(0))
    server.wait(lambda s: s['kinds'][0] == 'P', 'the painted mask to reach the server')
    painted = server.mask(0)
    assert set(np.unique(painted)) == {0, 1} and _iou(painted == 1, _shape(0)) > 0.85

    # 2. Propagate forward from it: every frame tracks the shape.
    driver.find_element(By.ID, 'propagate-forward').click()
    status = server.wait(lambda s: s['job'] and s['job']['kind'] == 'propagate' and not s['busy'], 'propagation')
    assert status['job']['state'] == 'done' and status['kinds'] == 'P' + 'p' * (FRAMES - 1)
    first_run = [server.mask(t) for t in range(FRAMES)]
    ious = [_iou(first_run[t] == 1, _shape(t)) for t in range(FRAMES)]
    print('IoU per frame, first propagation:', np.round(ious, 3).tolist())
    assert min(ious) > MIN_IOU, ious
    done = f'propagated forward from frame 0: {FRAMES - 1} of {FRAMES - 1} frames'
    # The page learns the job ended at its next status poll (a quarter of a second), not when the server does.
    try:
      WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, 'progress-text').text == done)
    except TimeoutException:
      pass
    text = driver.find_element(By.ID, 'progress-text').text
    assert text == done, text

    # 3. Correct frame 6 (go there with the keyboard, repaint the shape) and propagate again from it.
    body = driver.find_element(By.TAG_NAME, 'body')
    body.send_keys(Keys.HOME)  # the page followed the propagation to the last frame
    for _ in range(6):
      body.send_keys(Keys.ARROW_RIGHT)
    assert driver.find_element(By.ID, 'frame-label').text.startswith('frame 6 / 11 (shot_06)')
    driver.find_element(By.CSS_SELECTOR, 'input[name=tool][value=eraser]').click()
    _stroke(driver, HEIGHT // 2, 0, WIDTH - 1)  # a band across the object
    server.wait(lambda s: s['kinds'][6] == 'P', 'the eraser stroke')
    erased, band = server.mask(6), slice(HEIGHT // 2 - 1, HEIGHT // 2 + 2)
    assert (erased[band] == 0).all() and first_run[6][band].any()
    assert np.array_equal(erased[:HEIGHT // 2 - 5], first_run[6][:HEIGHT // 2 - 5])
    driver.find_element(By.ID, 'undo').click()  # back to the propagated pixels (now as a painted frame)
    server.wait(lambda s: np.array_equal(server.mask(6), first_run[6]), 'the undo')
    driver.find_element(By.CSS_SELECTOR, 'input[name=tool][value=brush]').click()
    _paint_shape(driver, _shape(6))
    status = server.wait(lambda s: s['kinds'][6] == 'P', 'the correction')
    assert status['kinds'] == 'P' + 'p' * 5 + 'P' + 's' * 5  # the frames after it are stale
    corrected = server.mask(6)
    driver.find_element(By.ID, 'propagate-forward').click()
    status = server.wait(lambda s: s['job']['start'] == 6 and not s['busy'], 'the second propagation')
    assert status['job']['state'] == 'done' and status['kinds'] == 'P' + 'p' * 5 + 'P' + 'p' * 5
    for t in range(6):
      assert np.array_equal(server.mask(t), first_run[t]), f'frame {t} changed'
    assert np.array_equal(server.mask(6), corrected)
    ious = [_iou(server.mask(t) == 1, _shape(t)) for t in range(7, FRAMES)]
    print('IoU per frame after the correction:', np.round(ious, 3).tolist())
    assert min(ious) > MIN_IOU, ious

    # 4. The other overlays, and playback from frame 6 to the end.
    Select(driver.find_element(By.ID, 'overlay-mode')).select_by_value('outline')
    Select(driver.find_element(By.ID, 'overlay-mode')).select_by_value('cutout')
    driver.find_element(By.ID, 'play').click()
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, 'frame-label').text.startswith('frame 11 / 11'))
    # Playback stops on the tick after it shows the last frame (1/fps later): wait for it, then it stays stopped.
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, 'play').text == 'Play')
    label = driver.find_element(By.ID, 'frame-label').text
    time.sleep(0.5)
    assert driver.find_element(By.ID, 'frame-label').text == label and label.startswith('frame 11 / 11')

    # 5. The export, downloaded by the browser and read back.
    driver.find_element(By.ID, 'export').click()
    deadline, downloads = time.monotonic() + 120, tmp_path / 'dl'
    while time.monotonic() < deadline:
      done = [n for n in (os.listdir(downloads) if downloads.exists() else []) if n.endswith('.zip')]
      if done:
        break
      time.sleep(0.2)
    assert done == ['video-vosjax.zip'], done
    with zipfile.ZipFile(downloads / done[0]) as archive:
      for t in range(FRAMES):
        exported = np.asarray(Image.open(io.BytesIO(archive.read(f'masks/shot_{t:02d}.png'))))
        assert np.array_equal(exported, server.mask(t)), t
        binary = np.asarray(Image.open(io.BytesIO(archive.read(f'objects/1_object_1/shot_{t:02d}.png'))))
        assert np.array_equal(binary == 255, server.mask(t) == 1), t
      assert archive.getinfo('overlay.mp4').file_size > 1000

    assert _severe_console_entries(driver) == []
  finally:
    output = server.stop()
  assert 'Traceback' not in output, output
  print(f'end-to-end test: {time.monotonic() - began:.1f}s')
