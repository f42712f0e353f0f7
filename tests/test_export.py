"""`vosjax.export`: the exported start/step equal the engine's, run without model code, refuse damaged artifacts and
bad inputs; `python -m vosjax.export` exports a workdir and segments a frame folder from the artifacts alone."""

import contextlib
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from PIL import Image

from vosjax.data.eval_stream import EvalFrame
from vosjax.data.image_io import read_mask, write_indexed_png
from vosjax.export import ExportArtifactError, ExportedTracker, export_tracker
from vosjax.export.__main__ import main
from vosjax.inference import VideoSegmenter
from vosjax.inference.resolution import network_frame, original_probabilities
from vosjax.models import VOSNet, init_variables, tiny_config
from vosjax.training import checkpoints
from vosjax.training.train_state import create_train_state, make_optimizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEIGHT, WIDTH, FRAMES, OBJECTS = 64, 96, 20, 2
MODEL = VOSNet(tiny_config())


def _frames(num_frames=FRAMES, height=HEIGHT, width=WIDTH):
  """[T, H, W, 3] uint8: a textured square moving right and down over a textured background, a still bar."""
  yy, xx = np.mgrid[:height, :width]
  background = np.stack([(yy * 7 + xx * 3) % 200, (xx * 5) % 180 + 40, (yy * 11) % 160 + 60], -1).astype(np.uint8)
  y, x = yy[:16, :16], xx[:16, :16]
  square = np.stack([200 + (y * 3) % 50, 30 + (x * 9) % 60, 40 + (y ^ x) * 4], -1).astype(np.uint8)
  video = np.repeat(background[None], num_frames, axis=0)
  for t in range(num_frames):
    top, left = 10 + t, 8 + 3 * t
    video[t, top:top + 16, left:left + 16] = square
    video[t, 46:58, 60:90] = (30, 40, 220)
  return video


def _first_ids():
  """[H, W] uint8: object 1 the square at frame 0, object 2 the bar."""
  ids = np.zeros((HEIGHT, WIDTH), np.uint8)
  ids[10:26, 8:24] = 1
  ids[46:58, 60:90] = 2
  return ids


@pytest.fixture(scope='module')
def variables():
  return init_variables(MODEL, seed=0)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory, variables):
  """A training workdir with one checkpoint of the (untrained) tiny network and its config.json."""
  workdir = tmp_path_factory.mktemp('workdir')
  manager = checkpoints.checkpoint_manager(str(workdir))
  checkpoints.save(manager, 1, create_train_state(variables, make_optimizer(1e-3)))
  manager.wait_until_finished()
  (workdir / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(tiny_config())}))
  return str(workdir)


@pytest.fixture(scope='module')
def cli_artifact(tmp_path_factory, workdir):
  """(artifact folder exported by the command at 64x96 with 2 slots, what the command printed)."""
  out = tmp_path_factory.mktemp('cli') / 'artifact'
  status, printed, error = _run(['--checkpoint', workdir, '--out', str(out), '--height', str(HEIGHT), '--width',
                                 str(WIDTH), '--objects', str(OBJECTS)])
  assert status == 0, error
  return str(out), printed


@pytest.fixture(scope='module')
def frames_dir(tmp_path_factory):
  """(a folder of PNG frames, the first mask's PNG)."""
  folder = tmp_path_factory.mktemp('frames')
  for t, frame in enumerate(_frames(6)):
    Image.fromarray(frame).save(folder / f'f{t:02d}.png')
  mask = str(folder.parent / 'first.png')
  write_indexed_png(mask, _first_ids())
  return str(folder), mask


def _run(argv):
  """(exit status of the command, stdout, stderr) of `python -m vosjax.export argv` run in this process."""
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      main(argv)
      status = 0
    except SystemExit as exit_:
      status = exit_.code
  return status, out.getvalue(), err.getvalue()


def test_exported_start_and_step_equal_the_engine_at_every_frame(variables, tmp_path):
  short_side = 48  # internal 48x72, padded to 48x80: resizing, padding and upsampling are all in the artifact
  manifest = export_tracker(MODEL, variables, tmp_path, HEIGHT, WIDTH, OBJECTS, short_side=short_side)
  assert manifest['internal_size'] == [48, 72] and manifest['padded_size'] == [48, 80]
  tracker = ExportedTracker(tmp_path)
  video, first = _frames(), _first_ids()
  masks = np.stack([first == 1, first == 2]).astype(np.float32)
  valid = np.ones(OBJECTS, bool)

  segmenter = VideoSegmenter(MODEL, variables, short_side=short_side)
  geometry = segmenter.geometry(HEIGHT, WIDTH)

  @jax.jit
  def reference_step(state, frame):
    state, logits = MODEL.apply(variables, state, network_frame(frame, geometry)[None], method=VOSNet.step)
    return state, original_probabilities(logits[0], geometry)

  reference = segmenter._start(variables, video[0], masks, valid, geometry=geometry)
  state = tracker.start(video[0], masks, valid)
  for got, want in zip(state, jax.tree.leaves(reference)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)
  engine_ids = [ids for _, ids in segmenter.segment(
      EvalFrame(index=t, name=str(t), image=frame, given_ids=first if t == 0 else None,
                new_object_ids=(1, 2) if t == 0 else ()) for t, frame in enumerate(video))]
  for t in range(1, FRAMES):
    reference, want_probs = reference_step(reference, video[t])
    state, probs, labels = tracker.step(state, video[t])
    assert probs.shape == (OBJECTS + 1, HEIGHT, WIDTH) and labels.dtype == np.uint8
    np.testing.assert_allclose(np.asarray(probs), np.asarray(want_probs), atol=1e-4, err_msg=f'frame {t}')
    np.testing.assert_array_equal(np.asarray(labels), engine_ids[t], err_msg=f'frame {t}')
  for got, want in zip(state, jax.tree.leaves(reference)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-4)
  # segment() maps slots back to the first mask's ids, as the engine does.
  ids = list(tracker.segment(video[:4], np.where(first == 2, 7, first)))
  np.testing.assert_array_equal(ids[0], np.where(first == 2, 7, first))
  np.testing.assert_array_equal(ids[3], np.where(engine_ids[3] == 2, 7, engine_ids[3]))


def test_the_artifact_runs_without_model_code(cli_artifact, tmp_path):
  artifact, _ = cli_artifact
  np.save(tmp_path / 'frames.npy', _frames(4))
  np.save(tmp_path / 'first.npy', _first_ids())
  script = textwrap.dedent("""
      import sys
      import numpy as np
      from vosjax.export import ExportedTracker
      tracker = ExportedTracker(sys.argv[1])
      ids = list(tracker.segment(np.load(sys.argv[2]), np.load(sys.argv[3])))
      np.save(sys.argv[4], np.stack(ids))
      loaded = [m for m in sys.modules if m.split('.')[0] in ('flax', 'optax', 'orbax')
                or m.startswith(('vosjax.models', 'vosjax.inference', 'vosjax.training'))]
      assert not loaded, loaded
      """)
  result = subprocess.run([sys.executable, '-c', script, artifact, str(tmp_path / 'frames.npy'),
                           str(tmp_path / 'first.npy'), str(tmp_path / 'ids.npy')], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, timeout=120)
  assert result.returncode == 0, result.stderr
  ids = np.load(tmp_path / 'ids.npy')
  assert ids.shape == (4, HEIGHT, WIDTH) and set(np.unique(ids).tolist()) <= {0, 1, 2}
  np.testing.assert_array_equal(ids[0], _first_ids())


def test_damaged_artifacts_and_wrong_inputs_are_refused(variables, tmp_path):
  good = tmp_path / 'good'
  export_tracker(MODEL, variables, good, HEIGHT, WIDTH, OBJECTS)

  def broken(name, change):
    folder = tmp_path / name
    shutil.copytree(good, folder)
    change(folder)
    with pytest.raises(ExportArtifactError) as error:
      ExportedTracker(folder)
    return str(error.value)

  def flip_a_byte(folder):
    data = bytearray((folder / 'step.jaxexport').read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / 'step.jaxexport').write_bytes(bytes(data))

  message = broken('tampered', flip_a_byte)
  assert 'step.jaxexport' in message and 'tampered or damaged' in message, message

  def future_version(folder):
    manifest = json.loads((folder / 'manifest.json').read_text())
    (folder / 'manifest.json').write_text(json.dumps({**manifest, 'format_version': 99}))

  message = broken('future', future_version)
  assert 'manifest.json' in message and 'version 99' in message and 'not supported' in message, message
  message = broken('missing', lambda folder: (folder / 'weights.npz').unlink())
  assert 'weights.npz' in message and 'missing' in message, message
  message = broken('no_manifest', lambda folder: (folder / 'manifest.json').unlink())
  assert 'manifest.json' in message and 'missing' in message, message

  tracker = ExportedTracker(good)
  frame, masks = _frames(1)[0], np.zeros((OBJECTS, HEIGHT, WIDTH), np.float32)
  expected = r'frame: expected shape \(64, 96, 3\) uint8, got '
  with pytest.raises(ExportArtifactError, match=expected + r'\(64, 90, 3\) uint8; .* 96x64 \(WxH\) frames'):
    tracker.start(frame[:, :90], masks)
  with pytest.raises(ExportArtifactError, match=expected + r'\(64, 96, 3\) float32'):
    tracker.step((), frame.astype(np.float32))
  with pytest.raises(ExportArtifactError, match=r'masks: expected shape \(2, 64, 96\).*got \(3, 64, 96\)'):
    tracker.start(frame, np.zeros((3, HEIGHT, WIDTH), np.float32))
  three_objects = _first_ids()
  three_objects[:4, :4] = 3
  with pytest.raises(ExportArtifactError, match=r'3 objects \(ids \[1, 2, 3\]\).*--objects 3'):
    next(tracker.segment([frame], three_objects))
  with pytest.raises(ExportArtifactError, match='a memory bank that grows with the video'):
    export_tracker(VOSNet(tiny_config(matcher='memory_bank')), variables, tmp_path / 'bank', HEIGHT, WIDTH, 1)


def test_the_command_exports_a_workdir_and_runs_the_artifact(cli_artifact, frames_dir, tmp_path):
  artifact, printed = cli_artifact
  assert sorted(os.listdir(artifact)) == ['manifest.json', 'start.jaxexport', 'step.jaxexport', 'weights.npz']
  assert 'weights.npz' in printed and 'step.jaxexport' in printed and 'kB' in printed and '--run' in printed
  manifest = json.loads(open(os.path.join(artifact, 'manifest.json')).read())
  assert (manifest['format'], manifest['height'], manifest['width'], manifest['objects']) == (
      'vosjax-tracker-export', HEIGHT, WIDTH, OBJECTS)
  assert manifest['platforms'] == ['cpu'] and manifest['created_with']['jax'] == jax.__version__
  frames, mask = frames_dir
  out = tmp_path / 'masks'
  status, printed, error = _run(['--run', artifact, '--frames', frames, '--first_mask', mask, '--out', str(out)])
  assert status == 0, error
  assert sorted(os.listdir(out)) == [f'f{t:02d}.png' for t in range(6)] and 'Segmented 6 frames' in printed
  with Image.open(out / 'f00.png') as image:
    assert image.mode == 'P'
  expected = list(ExportedTracker(artifact).segment(_frames(6), _first_ids()))
  for t in range(6):
    np.testing.assert_array_equal(read_mask(str(out / f'f{t:02d}.png')), expected[t])
  # A second run into the same folder: refused without --overwrite, replaced with it.
  status, _, error = _run(['--run', artifact, '--frames', frames, '--first_mask', mask, '--out', str(out)])
  assert status == 2 and '--overwrite' in error
  assert _run(['--run', artifact, '--frames', frames, '--first_mask', mask, '--out', str(out), '--overwrite'])[0] == 0


def test_bad_arguments_are_one_line_and_status_2(cli_artifact, frames_dir, workdir, tmp_path):
  artifact, _ = cli_artifact
  frames, mask = frames_dir
  small = tmp_path / 'small'
  small.mkdir()
  Image.fromarray(_frames(1, 48, 80)[0]).save(small / 'a.png')
  damaged = tmp_path / 'damaged'
  shutil.copytree(artifact, damaged)
  (damaged / 'start.jaxexport').write_bytes(b'junk')
  cases = [
      (['--checkpoint', workdir], ['--out']),
      (['--checkpoint', workdir, '--run', artifact, '--out', 'x'], ['--run', '--checkpoint']),
      (['--checkpoint', workdir, '--out', str(tmp_path / 'e'), '--height', '0'], ['--height', '0']),
      (['--checkpoint', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'e')], [str(tmp_path / 'nowhere')]),
      (['--checkpoint', workdir, '--out', artifact], [artifact, '--overwrite']),
      (['--run', artifact, '--out', str(tmp_path / 'o')], ['--frames', '--first_mask']),
      (['--run', str(damaged), '--frames', frames, '--first_mask', mask, '--out', str(tmp_path / 'o')],
       ['start.jaxexport', 'tampered or damaged']),
      (['--run', artifact, '--frames', str(small), '--first_mask', mask, '--out', str(tmp_path / 'o')],
       [str(small), '80x48', '96x64']),
  ]
  for argv, expected in cases:
    status, _, error = _run(argv)
    lines = error.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith('vosjax.export: '), (argv, error)
    assert all(part in lines[0] for part in expected), (argv, lines[0])
  assert not (tmp_path / 'e').exists() and not (tmp_path / 'o').exists()
  result = subprocess.run([sys.executable, '-m', 'vosjax.export', '--run', artifact], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, timeout=120)
  assert result.returncode == 2 and result.stderr.startswith('vosjax.export: ') and '--out' in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize('overrides', [
    # The earlier shipped models' kind: a memory bank of the first frame and the 2 latest stored frames, storing
    # every 2nd frame. The exported step stores every frame and the network keeps only those its ring takes.
    {'matcher': 'memory_bank', 'memory_every': 2, 'memory_recent': 2},
    # The default shipped model's kind: GAM beside an attention read of the first frame.
    {'matcher': 'global', 'gam_first_frame': True},
], ids=['fixed_size_bank', 'gam_first_frame'])
def test_a_fixed_size_state_exports_and_equals_the_engine(overrides, tmp_path):
  """The exported tracker's labels equal the engine's (which skips the mask encoder on frames the memory does not
  keep) at every frame."""
  model = VOSNet(tiny_config(**overrides))
  bank_variables = init_variables(model, seed=0)
  manifest = export_tracker(model, bank_variables, tmp_path, HEIGHT, WIDTH, OBJECTS)
  assert manifest['matcher'] == overrides['matcher']
  video, first = _frames(), _first_ids()
  exported = list(ExportedTracker(tmp_path).segment(video, first))
  engine = [ids for _, ids in VideoSegmenter(model, bank_variables).segment(
      EvalFrame(index=t, name=str(t), image=frame, given_ids=first if t == 0 else None,
                new_object_ids=(1, 2) if t == 0 else ()) for t, frame in enumerate(video))]
  assert len(exported) == len(engine) == FRAMES
  for t in range(FRAMES):
    np.testing.assert_array_equal(exported[t], engine[t], err_msg=f'frame {t}')

