"""`python -m vosjax.segment`: a user's mp4 or frame folder and first mask in, mask PNGs and an overlay video out;
bad input refused before the network loads; the overlay drawing."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pathlib import Path
from PIL import Image

from vosjax.data.image_io import davis_palette, read_mask, write_indexed_png
from vosjax.data.user_video import open_user_video, read_first_mask
from vosjax.models import VOSNet, init_variables, tiny_config
from vosjax.segment import main
from vosjax.training import checkpoints
from vosjax.training.train_state import create_train_state, make_optimizer
from vosjax.visualization import OverlayVideoWriter, overlay_masks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEIGHT, WIDTH, FRAMES = 64, 96, 12


def _frames(num_frames=FRAMES, height=HEIGHT, width=WIDTH):
  """[T, H, W, 3] uint8 RGB: a red square moving right over a textured background, a still blue bar."""
  yy, xx = np.mgrid[:height, :width]
  background = np.stack([(yy * 7 + xx * 3) % 200, (xx * 5) % 180 + 40, (yy * 11) % 160 + 60], -1).astype(np.uint8)
  video = np.repeat(background[None], num_frames, axis=0)
  for t in range(num_frames):
    video[t, 20:36, 10 + 3 * t:26 + 3 * t] = (230, 30, 30)
    video[t, 44:56, 60:90] = (30, 40, 220)
  return video


def _first_mask(height=HEIGHT, width=WIDTH):
  """[H, W] uint8: object 1 the square at frame 0, object 2 the bar, a void band around the square."""
  ids = np.zeros((height, width), np.uint8)
  ids[19:37, 9:27] = 255
  ids[20:36, 10:26] = 1
  ids[44:56, 60:90] = 2
  return ids


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """A training workdir with one checkpoint of the (untrained) tiny network and its config.json."""
  workdir = tmp_path_factory.mktemp('workdir')
  state = create_train_state(init_variables(VOSNet(tiny_config())), make_optimizer(1e-3))
  manager = checkpoints.checkpoint_manager(str(workdir))
  checkpoints.save(manager, 1, state)
  manager.wait_until_finished()
  (workdir / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(tiny_config())}))
  return str(workdir)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
  """(mp4 path, frame folder path, first mask path)."""
  folder = tmp_path_factory.mktemp('inputs')
  video = _frames()
  mp4 = str(folder / 'clip.mp4')
  writer = cv2.VideoWriter(mp4, cv2.VideoWriter_fourcc(*'mp4v'), 12.0, (WIDTH, HEIGHT))
  for frame in video:
    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
  writer.release()
  frames_dir = folder / 'frames'
  frames_dir.mkdir()
  for t, frame in enumerate(video[:5]):
    Image.fromarray(frame).save(frames_dir / f'frame_{t:03d}.jpg', quality=95)
  mask = str(folder / 'first.png')
  write_indexed_png(mask, _first_mask())
  return mp4, str(frames_dir), mask


def _run(argv):
  """main(argv)'s exit status (0 when it returns)."""
  try:
    main(argv)
  except SystemExit as exit_:
    return exit_.code
  return 0


def _video_frames(path):
  capture = cv2.VideoCapture(path)
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  fps = capture.get(cv2.CAP_PROP_FPS)
  capture.release()
  return frames, fps


def test_an_mp4_gives_a_mask_per_frame_and_an_overlay_video(workdir, inputs, tmp_path, capsys):
  mp4, _, mask = inputs
  out = tmp_path / 'out'
  assert _run(['--video', mp4, '--mask', mask, '--checkpoint', workdir, '--out', str(out)]) == 0
  names = sorted(os.listdir(out / 'masks'))
  assert names == [f'{t:05d}.png' for t in range(FRAMES)]
  first = read_mask(str(out / 'masks' / '00000.png'))
  np.testing.assert_array_equal(first, np.where(_first_mask() == 255, 0, _first_mask()))
  for name in names:
    with Image.open(out / 'masks' / name) as image:
      assert image.mode == 'P'
    ids = read_mask(str(out / 'masks' / name))
    assert ids.shape == (HEIGHT, WIDTH) and set(np.unique(ids).tolist()) <= {0, 1, 2}
  frames, fps = _video_frames(str(out / 'overlay.mp4'))
  assert len(frames) == FRAMES and frames[0].shape == (HEIGHT, WIDTH, 3) and fps == pytest.approx(12.0)
  assert not [n for n in os.listdir(out) if '.tmp' in n]
  printed = capsys.readouterr().out
  assert f'Segmented {FRAMES} frames, 2 objects' in printed and 'overlay.mp4' in printed


def test_a_frame_folder_works_too(workdir, inputs, tmp_path):
  _, frames_dir, mask = inputs
  out = tmp_path / 'out'
  step = os.path.join(workdir, 'checkpoints', '1')
  status = _run(['--video', frames_dir, '--mask', mask, '--checkpoint', step, '--out', str(out), '--fps', '10',
                 '--objects', '3', '--short_side', '0'])
  assert status == 0
  assert sorted(os.listdir(out / 'masks')) == [f'frame_{t:03d}.png' for t in range(5)]
  frames, fps = _video_frames(str(out / 'overlay.mp4'))
  assert len(frames) == 5 and frames[0].shape == (HEIGHT, WIDTH, 3) and fps == pytest.approx(10.0)


def test_adapting_to_the_first_frame_first_still_gives_every_mask(workdir, inputs, tmp_path, capsys):
  _, frames_dir, mask = inputs
  out = tmp_path / 'out'
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', workdir, '--out', str(out),
               '--adapt_steps', '2']) == 0
  assert sorted(os.listdir(out / 'masks')) == [f'frame_{t:03d}.png' for t in range(5)]
  np.testing.assert_array_equal(read_mask(str(out / 'masks' / 'frame_000.png')),
                                np.where(_first_mask() == 255, 0, _first_mask()))
  assert 'adapted to the first frame: 2 steps' in capsys.readouterr().out


def test_a_mask_of_the_wrong_size_is_refused_before_anything_is_written(workdir, inputs, tmp_path, capsys):
  mp4, _, _ = inputs
  small = str(tmp_path / 'small.png')
  write_indexed_png(small, _first_mask()[:48, :80])
  out = tmp_path / 'out'
  assert _run(['--video', mp4, '--mask', small, '--checkpoint', workdir, '--out', str(out)]) == 2
  message = capsys.readouterr().err.strip()
  assert len(message.splitlines()) == 1 and 'Traceback' not in message
  assert small in message and mp4 in message and '80x48' in message and '96x64' in message
  assert not out.exists()


def test_other_bad_input_is_refused_with_the_file_named(workdir, inputs, tmp_path, capsys):
  mp4, frames_dir, mask = inputs
  empty = str(tmp_path / 'empty.png')
  write_indexed_png(empty, np.where(_first_mask() == 255, 255, 0).astype(np.uint8))  # void only
  junk = tmp_path / 'junk.mp4'
  junk.write_text('not a video')
  odd = tmp_path / 'odd'
  odd.mkdir()
  Image.fromarray(_frames(1)[0]).save(odd / 'a.png')
  Image.fromarray(_frames(1, 60, 96)[0]).save(odd / 'b.png')
  cases = [
      ([mp4, empty, workdir], [empty, 'no object']),
      ([str(junk), mask, workdir], [str(junk), 'OpenCV']),
      ([str(odd), mask, workdir], [str(odd / 'b.png'), '96x60']),
      ([str(tmp_path / 'missing'), mask, workdir], [str(tmp_path / 'missing')]),
      ([mp4, mask, str(tmp_path / 'no_workdir')], [str(tmp_path / 'no_workdir')]),
      ([mp4, mask, workdir, '--objects', '1'], ['--objects 1', mask]),
      ([mp4, mask, workdir, '--adapt_steps', '-1'], ['--adapt_steps', '-1']),
  ]
  for (video, mask_path, checkpoint, *rest), expected in cases:
    out = tmp_path / 'out'
    status = _run(['--video', video, '--mask', mask_path, '--checkpoint', checkpoint, '--out', str(out), *rest])
    message = capsys.readouterr().err.strip()
    assert status == 2, message
    assert len(message.splitlines()) == 1 and all(part in message for part in expected), message
    assert not (out / 'overlay.mp4').exists()


def test_the_module_runs_as_a_command(inputs, tmp_path):
  mp4, _, _ = inputs
  small = str(tmp_path / 'small.png')
  write_indexed_png(small, _first_mask()[:48, :80])
  result = subprocess.run([sys.executable, '-m', 'vosjax.segment', '--video', mp4, '--mask', small, '--checkpoint',
                           str(tmp_path), '--out', str(tmp_path / 'out')], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, timeout=120)
  assert result.returncode == 2 and result.stderr.startswith('vosjax.segment: ' + small), result.stderr


def test_a_binary_grayscale_mask_is_one_object(inputs, tmp_path):
  mp4, _, _ = inputs
  path = str(tmp_path / 'binary.png')
  Image.fromarray(np.where(_first_mask() == 1, 255, 0).astype(np.uint8), mode='L').save(path)
  ids = read_first_mask(path, open_user_video(mp4))
  np.testing.assert_array_equal(ids, (_first_mask() == 1).astype(np.uint8))


def test_overlay_blends_objects_and_outlines_them_in_their_colour():
  palette = davis_palette()
  image = np.full((40, 40, 3), 100, np.uint8)
  ids = np.zeros((40, 40), np.uint8)
  ids[10:30, 10:30] = 1
  ids[10:30, 30:36] = 2
  result = overlay_masks(image, ids, alpha=0.5, outline_px=1)
  assert result.shape == image.shape and result.dtype == np.uint8
  np.testing.assert_array_equal(result[ids == 0], image[ids == 0])  # background untouched, outline included
  inside = result[20, 20].astype(int)
  expected = np.rint(0.5 * 100 + 0.5 * palette[1]).astype(int)
  np.testing.assert_array_equal(inside, expected)
  assert np.abs(inside - palette[1]).sum() < np.abs(image[20, 20].astype(int) - palette[1]).sum()  # towards 1's
  for y, x, object_id in ((10, 20, 1), (29, 15, 1), (20, 29, 1), (20, 30, 2), (20, 35, 2)):
    np.testing.assert_array_equal(result[y, x], palette[object_id])  # outline: solid, also where objects meet
  np.testing.assert_array_equal(result[20, 28], expected)  # 2 px inside: blended, not outline


def test_the_overlay_video_appears_only_when_complete(tmp_path):
  path = str(tmp_path / 'overlay.mp4')
  with pytest.raises(RuntimeError):
    with OverlayVideoWriter(path, 24.0, (33, 47)) as writer:
      writer.write(np.zeros((33, 47, 3), np.uint8), np.zeros((33, 47), np.uint8))
      raise RuntimeError('interrupted')
  assert os.listdir(tmp_path) == []
  with OverlayVideoWriter(path, 24.0, (33, 47)) as writer:
    for _ in range(3):
      writer.write(np.zeros((33, 47, 3), np.uint8), np.ones((33, 47), np.uint8))
  frames, _ = _video_frames(path)
  assert os.listdir(tmp_path) == ['overlay.mp4'] and len(frames) == 3 and frames[0].shape == (34, 48, 3)


def test_outputs_never_mix_runs(workdir, inputs, tmp_path, capsys):
  mp4, frames_dir, mask = inputs
  out = tmp_path / 'out'
  assert _run(['--video', mp4, '--mask', mask, '--checkpoint', workdir, '--out', str(out)]) == 0  # 12 frames
  assert not (out / 'INCOMPLETE').exists()
  capsys.readouterr()
  # A second result into the same folder: refused without --overwrite, nothing touched.
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', workdir, '--out', str(out)]) == 2
  message = capsys.readouterr().err.strip()
  assert len(message.splitlines()) == 1 and str(out) in message and '--overwrite' in message, message
  assert len(os.listdir(out / 'masks')) == FRAMES
  # --overwrite: only the new video's 5 masks remain.
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', workdir, '--out', str(out), '--overwrite']) == 0
  assert sorted(os.listdir(out / 'masks')) == [f'frame_{t:03d}.png' for t in range(5)]
  # --overwrite removes only this command's own files.
  (out / 'notes.txt').write_text('mine')
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', workdir, '--out', str(out), '--overwrite']) == 2
  assert 'notes.txt' in capsys.readouterr().err and (out / 'notes.txt').exists()


def test_an_unwritable_out_is_refused_before_the_network_loads(inputs, tmp_path, capsys):
  mp4, _, mask = inputs
  out = '/proc/vosjax_cannot_write_here'
  # The checkpoint does not exist either: the message is about --out, so --out was checked first.
  assert _run(['--video', mp4, '--mask', mask, '--checkpoint', str(tmp_path / 'none'), '--out', out]) == 2
  message = capsys.readouterr().err.strip()
  assert len(message.splitlines()) == 1 and out in message and 'cannot write' in message, message
  # A checkpoint that cannot be loaded leaves no output folder behind.
  fresh = tmp_path / 'fresh'
  assert _run(['--video', mp4, '--mask', mask, '--checkpoint', str(tmp_path / 'none'), '--out', str(fresh)]) == 2
  assert not fresh.exists()


def test_a_frame_corrupt_mid_video_leaves_a_marked_partial_result(workdir, inputs, tmp_path, capsys):
  _, frames_dir, mask = inputs
  broken = tmp_path / 'broken'
  broken.mkdir()
  for name in sorted(os.listdir(frames_dir)):
    (broken / name).write_bytes((Path(frames_dir) / name).read_bytes())
  whole = (broken / 'frame_003.jpg').read_bytes()
  (broken / 'frame_003.jpg').write_bytes(whole[:len(whole) // 3])  # its header reads, its pixels do not
  out = tmp_path / 'out'
  assert _run(['--video', str(broken), '--mask', mask, '--checkpoint', workdir, '--out', str(out)]) == 2
  message = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
  assert message.startswith('vosjax.segment: ') and 'frame_003.jpg' in message and 'INCOMPLETE' in message, message
  assert (out / 'INCOMPLETE').is_file() and not (out / 'overlay.mp4').exists()


def test_segment_equals_the_engine_frame_by_frame_at_the_workdirs_own_resolution(workdir, inputs, tmp_path, capsys):
  """A workdir segments at its config's eval.short_side (here 48) unless --short_side is given, and the command's
  masks are the engine's, frame by frame."""
  from vosjax.data.user_video import user_video_stream
  from vosjax.inference import VideoSegmenter
  from vosjax.inference.checkpoint_loading import load_network
  _, frames_dir, mask = inputs
  recipe = tmp_path / 'recipe'
  shutil.copytree(workdir, recipe)
  (recipe / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(tiny_config()),
                                                  'eval': {'short_side': 48}}))
  out = tmp_path / 'out'
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', str(recipe), '--out', str(out)]) == 0
  printed = capsys.readouterr().out
  assert "internal short side 48, the model's own setting" in printed
  model, variables, _ = load_network(str(recipe))
  video = open_user_video(frames_dir)
  engine = VideoSegmenter(model, variables, short_side=48)
  outputs = list(engine.segment(user_video_stream(video, read_first_mask(mask, video))))
  assert len(outputs) == 5
  for frame, ids in outputs:
    np.testing.assert_array_equal(read_mask(str(out / 'masks' / f'{frame.name}.png')), ids, err_msg=frame.name)
  native = tmp_path / 'native'  # --short_side given: the user's choice wins
  assert _run(['--video', frames_dir, '--mask', mask, '--checkpoint', str(recipe), '--out', str(native),
               '--short_side', '0']) == 0
  assert 'internal short side' not in capsys.readouterr().out
