"""Models shipped inside the package: names, loading with the sha256 check, damaged files, and segmenting a video with
the shipped default from a fresh install (no other file)."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from vosjax import pretrained
from vosjax.models import VOSNet, init_variables, tiny_config
from vosjax.pretrained.packaging import package
from vosjax.training import checkpoints
from vosjax.training.train_state import create_train_state, make_optimizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def models_dir(tmp_path_factory):
  """A models folder holding 'tiny-test', packaged from a workdir of the (untrained) tiny network."""
  workdir = tmp_path_factory.mktemp('workdir')
  state = create_train_state(init_variables(VOSNet(tiny_config()), seed=3), make_optimizer(1e-3))
  manager = checkpoints.checkpoint_manager(str(workdir))
  checkpoints.save(manager, 5, state)
  manager.close()
  import dataclasses
  (workdir / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(tiny_config()), 'seed': 3,
                                                   'data': {'davis_root': str(workdir / 'davis'), 'sources': 'davis:1',
                                                            'coco_root': 'data/COCO'}}))
  folder = tmp_path_factory.mktemp('models')
  package(str(workdir), 'tiny-test', {'held_out_JF': 0.5}, 'python train.py ...', 'generated', 48, str(folder))
  return str(folder), state


def _env(**extra):
  return dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_backend_optimization_level=0', **extra)


def test_a_packaged_model_is_listed_loaded_and_described(models_dir, monkeypatch):
  folder, state = models_dir
  monkeypatch.setenv('VOSJAX_MODELS_DIR', folder)
  assert pretrained.names() == ['tiny-test']
  model, variables = pretrained.load('tiny-test')
  assert model.config == tiny_config()
  for got, want in zip(jax.tree.leaves(variables), jax.tree.leaves(state.variables)):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  info = pretrained.manifest('tiny-test')
  assert info['training']['steps'] == 5 and info['training']['seed'] == 3 and info['short_side'] == 48
  assert info['figures'] == {'held_out_JF': 0.5}
  # The packaging machine's folders are not recorded: an absolute path becomes the option that gives it.
  assert info['training']['config']['data'] == {'davis_root': '(the folder given with --config.data.davis_root)',
                                                'sources': 'davis:1', 'coco_root': 'data/COCO'}
  assert info['sha256'] == pretrained.sha256_of(os.path.join(folder, 'tiny-test.npz'))


def test_an_unknown_name_lists_the_known_ones(models_dir, monkeypatch):
  monkeypatch.setenv('VOSJAX_MODELS_DIR', models_dir[0])
  with pytest.raises(pretrained.PretrainedModelError, match=r"no shipped model named 'nope'.*tiny-test"):
    pretrained.load('nope')


def test_a_flipped_byte_refuses_to_load_in_one_line(models_dir, tmp_path):
  folder = tmp_path / 'models'
  shutil.copytree(models_dir[0], folder)
  weights = folder / 'tiny-test.npz'
  data = bytearray(weights.read_bytes())
  data[len(data) // 2] ^= 0x01
  weights.write_bytes(bytes(data))
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv('VOSJAX_MODELS_DIR', str(folder))
    with pytest.raises(pretrained.PretrainedModelError, match='tiny-test.npz.*sha256'):
      pretrained.load('tiny-test')
  frames = tmp_path / 'frames'
  frames.mkdir()
  from PIL import Image
  Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(frames / '00000.png')
  mask = np.zeros((32, 48), np.uint8)
  mask[8:20, 8:20] = 1
  Image.fromarray(mask * 255).save(tmp_path / 'mask.png')
  result = subprocess.run([sys.executable, '-m', 'vosjax.segment', '--video', str(frames), '--mask',
                           str(tmp_path / 'mask.png'), '--checkpoint', 'tiny-test', '--out', str(tmp_path / 'out')],
                          capture_output=True, text=True, cwd=ROOT, env=_env(VOSJAX_MODELS_DIR=str(folder)))
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == 2 and len(lines) == 1 and 'tiny-test.npz' in lines[0], result.stderr
  assert not (tmp_path / 'out').exists()


@pytest.mark.skipif(pretrained.DEFAULT not in pretrained.names(), reason='no shipped model in this checkout')
def test_segment_uses_the_shipped_default_and_says_once_that_it_scales_large_frames(tmp_path):
  assert pretrained.names()[0] == pretrained.DEFAULT
  frames = tmp_path / 'frames'
  frames.mkdir()
  from PIL import Image
  height, width = 720, 1280  # larger than the shipped model's internal resolution
  mask = np.zeros((height, width), np.uint8)
  mask[200:500, 300:700] = 1
  for t in range(3):
    image = np.full((height, width, 3), 90, np.uint8)
    image[200:500, 300 + 20 * t:700 + 20 * t] = (220, 60, 40)
    Image.fromarray(image).save(frames / f'{t:05d}.jpg')
  Image.fromarray(mask).save(tmp_path / 'mask.png')
  env = _env()
  env.pop('VOSJAX_MODELS_DIR', None)
  result = subprocess.run([sys.executable, '-m', 'vosjax.segment', '--video', str(frames), '--mask',
                           str(tmp_path / 'mask.png'), '--out', str(tmp_path / 'out')],
                          capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'the shipped model {pretrained.DEFAULT}' in result.stdout
  assert result.stdout.count('the resolution this model was trained for') == 1
  written = sorted(os.listdir(tmp_path / 'out' / 'masks'))
  assert written == ['00000.png', '00001.png', '00002.png']
  last = np.asarray(Image.open(tmp_path / 'out' / 'masks' / '00002.png'))
  assert last.shape == (height, width)
  # The red box moved 40 px right: most of it is found, little of the background is taken.
  box = np.zeros((height, width), bool)
  box[200:500, 340:740] = True
  assert (last[box] == 1).mean() > 0.7 and (last[~box] == 1).mean() < 0.1


def test_evaluate_and_export_take_a_shipped_name_without_workdir_or_config(models_dir, tmp_path, monkeypatch):
  from vosjax.configs import synthetic
  from data_layouts import rescored_jf, write_davis2017
  from vosjax.data import davis_videos
  from vosjax.evaluation.evaluate_lib import evaluate_checkpoint
  from vosjax.export.__main__ import main as export_main
  monkeypatch.setenv('VOSJAX_MODELS_DIR', models_dir[0])
  root = write_davis2017(str(tmp_path / 'davis'), {'a': ('val', 4, 1), 'b': ('val', 4, 2)}, height=40, width=64)
  config = synthetic.get_config()
  config.eval.dataset = 'davis'
  config.data.davis_root = root
  results = evaluate_checkpoint(config, 'tiny-test', 'val', str(tmp_path / 'out'))
  assert results['frames'] == 8 and results['checkpoint'] == 'the shipped model tiny-test'
  assert results['J&F-Mean'] == pytest.approx(rescored_jf(str(tmp_path / 'out'), davis_videos(root, 'val')), abs=1e-6)
  export_main(['--checkpoint', 'tiny-test', '--out', str(tmp_path / 'artifact'), '--height', '40', '--width', '64'])
  manifest = json.loads((tmp_path / 'artifact' / 'manifest.json').read_text())
  assert (manifest['height'], manifest['width'], manifest['short_side']) == (40, 64, 48)  # the model's own
