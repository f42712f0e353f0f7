"""Takes the README's screenshot of the browser app: a real video's first mask imported, propagated, and a later frame
shown, in Debian's headless Chromium (the browser the app's end-to-end test drives).

  python benchmarks/app_screenshot.py --frames DAVIS/JPEGImages/480p/bear \\
      --mask DAVIS/Annotations/480p/bear/00000.png --out docs/app.png [--num_frames 25] [--show 20] [--name bear]

Runs `python -m vosjax.app` on the first --num_frames frames (linked into a temporary folder), imports --mask on
frame 0 through the page's "Import PNG" button, names the object, presses "Forward", waits for the propagation and
shows frame --show. Needs the app extra, selenium, /usr/bin/chromium and /usr/bin/chromedriver.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--hide-scrollbars')


def _start_app(video: str, workspace: str) -> tuple[subprocess.Popen, str]:
  process = subprocess.Popen([sys.executable, '-m', 'vosjax.app', '--video', video, '--workspace', workspace,
                              '--port', '0'], cwd=ROOT, env={**os.environ, 'PYTHONUNBUFFERED': '1'},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  for line in process.stdout:
    print(f'  app: {line.rstrip()}')
    found = re.search(r'Open (http://\S+/) in a browser', line)
    if found:
      return process, found.group(1)
  raise SystemExit('the app did not start')


def _status(url: str) -> dict:
  with urllib.request.urlopen(url + 'api/status', timeout=30) as response:
    return json.loads(response.read())


def _wait(url: str, condition, what: str, timeout: float = 900) -> dict:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    status = _status(url)
    if condition(status):
      return status
    time.sleep(0.2)
  raise SystemExit(f'timed out waiting for {what}')


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--frames', required=True, help='a folder of frames (e.g. DAVIS JPEGImages/480p/<video>)')
  parser.add_argument('--mask', required=True, help="the first frame's mask (e.g. its DAVIS annotation)")
  parser.add_argument('--out', required=True, help='the PNG to write')
  parser.add_argument('--num_frames', type=int, default=25, help='how many of the video\'s first frames to open')
  parser.add_argument('--show', type=int, default=20, help='the frame shown in the screenshot')
  parser.add_argument('--name', default='', help="the object's name in the list")
  parser.add_argument('--size', default='1280,960', help='the browser window, W,H')
  args = parser.parse_args()

  from selenium import webdriver
  from selenium.webdriver.common.by import By
  from selenium.webdriver.common.keys import Keys

  frames = sorted(n for n in os.listdir(args.frames) if n.lower().endswith(('.jpg', '.jpeg', '.png')))
  with tempfile.TemporaryDirectory() as scratch:
    video = os.path.join(scratch, os.path.basename(os.path.normpath(args.frames)))
    os.makedirs(video)
    for name in frames[:args.num_frames]:
      os.symlink(os.path.abspath(os.path.join(args.frames, name)), os.path.join(video, name))
    process, url = _start_app(video, os.path.join(scratch, 'workspace'))
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for flag in CHROMIUM_FLAGS + (f'--window-size={args.size}', f'--user-data-dir={scratch}/profile'):
      options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=webdriver.ChromeService('/usr/bin/chromedriver'), options=options)
    try:
      driver.get(url)
      _wait(url, lambda s: s['model']['ready'] and not s['busy'] and s['objects'], 'the video and the model')
      driver.find_element(By.CSS_SELECTOR, 'body[data-ready="1"]')
      driver.find_element(By.ID, 'import-mask').send_keys(os.path.abspath(args.mask))
      _wait(url, lambda s: s['kinds'][:1] == 'P', 'the imported mask')
      if args.name:
        name = driver.find_element(By.CSS_SELECTOR, '#objects input[type=text]')
        name.send_keys(Keys.CONTROL, 'a')
        name.send_keys(args.name, Keys.ENTER)
        _wait(url, lambda s: s['objects'][0]['name'] == args.name, 'the object\'s name')
      driver.find_element(By.ID, 'propagate-forward').click()
      status = _wait(url, lambda s: s['job']['kind'] == 'propagate' and not s['busy'], 'the propagation')
      job = status['job']
      print(f'propagated {job["done"]} frames at {job["fps"]} frames/s (first frame after {job["first_frame_s"]} s)')
      slider = driver.find_element(By.ID, 'slider')
      driver.execute_script('arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event("input"))',
                            slider, args.show)
      time.sleep(1.5)  # the frame and its mask load
      driver.save_screenshot(args.out)
      severe = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']
      if severe:
        raise SystemExit(f'the browser console reported errors: {severe}')
    finally:
      driver.quit()
      process.send_signal(signal.SIGINT)
      process.wait(timeout=60)
  print(f'wrote {args.out}')


if __name__ == '__main__':
  main()
