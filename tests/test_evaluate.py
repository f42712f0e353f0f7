"""evaluate.py: segmenting a split into DAVIS-format PNGs, scoring it, resuming after a kill, YouTube-VOS
submissions, and scoring a results folder with no model."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from vosjax.configs import synthetic
from data_layouts import (rescored_jf, square_ids, write_davis2016_release, write_davis2017, write_jpeg,
                          write_youtube_vos)
from vosjax.data import davis_videos
from vosjax.data.image_io import DatasetError, read_mask
from vosjax.evaluation.evaluate_lib import evaluate_checkpoint, score_folder
from vosjax.metrics import score_sequence, summarize
from vosjax.models import ModelConfig, VOSNet, init_variables
from vosjax.training import checkpoints
from vosjax.training.train_state import create_train_state, make_optimizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQUENCES = {'alpha': ('val', 6, 2), 'beta': ('val', 40, 1), 'gamma': ('train', 3, 1)}


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """A workdir with a checkpoint of the synthetic config's (untrained) network, as train.py leaves it."""
  config = synthetic.get_config()
  workdir = tmp_path_factory.mktemp('workdir')
  model = VOSNet(ModelConfig.from_dict(config.model.to_dict()))
  manager = checkpoints.checkpoint_manager(str(workdir))
  checkpoints.save(manager, 7, create_train_state(init_variables(model, seed=1), make_optimizer(1e-3)))
  manager.wait_until_finished()
  (workdir / 'config.json').write_text(config.to_json_best_effort())
  return str(workdir)


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
  return write_davis2017(str(tmp_path_factory.mktemp('davis')), SEQUENCES, height=40, width=64)


def _config(**eval_overrides):
  config = synthetic.get_config()
  for key, value in eval_overrides.items():
    section, field = key.split('__')
    config[section][field] = value
  return config


def _davis_config(davis_root):
  return _config(eval__dataset='davis', data__root=davis_root)


def test_evaluate_writes_davis_pngs_and_official_csvs(workdir, davis_root, tmp_path):
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_davis_config(davis_root), workdir, 'val', str(out))
  assert results['checkpoint'].endswith('checkpoints/7') and results['frames'] == 46
  assert results['fps_without_io'] >= results['fps_with_io'] > 0 and results['peak_host_bytes'] > 0
  for name, (split, frames, _) in SEQUENCES.items():
    written = sorted(os.listdir(out / name)) if (out / name).is_dir() else []
    assert written == ([f'{t:05d}.png' for t in range(frames)] if split == 'val' else [])
  with Image.open(out / 'alpha' / '00003.png') as image:
    assert image.mode == 'P' and image.size == (64, 40)
  np.testing.assert_array_equal(read_mask(str(out / 'alpha' / '00000.png')), square_ids(40, 64, 0, 2))
  lines = (out / 'global_results-val.csv').read_text().splitlines()
  assert lines[0] == 'J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay'
  rows = (out / 'per-sequence_results-val.csv').read_text().splitlines()
  assert rows[0] == 'Sequence,J-Mean,F-Mean' and [r.split(',')[0] for r in rows[1:]] == ['alpha_1', 'alpha_2',
                                                                                          'beta_1']
  # The figures are the metric's on the written PNGs.
  scores = []
  for video in davis_videos(davis_root, 'val'):
    truth = np.stack([video.read_mask(i) for i in range(video.num_frames)])
    predicted = np.stack([read_mask(str(out / video.name / f'{n}.png')) for n in video.frame_names])
    scores.append(score_sequence(truth, predicted, sequence=video.name))
  expected = summarize(scores).global_results
  assert lines[1] == ','.join(f'{expected[c]:.3f}' for c in lines[0].split(','))
  assert results['J&F-Mean'] == pytest.approx(expected['J&F-Mean'])

  # The scorer alone, on the same folder, with no model: the same CSVs.
  (out / 'global_results-val.csv').unlink()
  summary = score_folder(str(out), davis_root, 'val', workers=2)
  assert (out / 'global_results-val.csv').read_text().splitlines() == lines
  assert summary.global_results == pytest.approx(expected)


def test_scoring_refuses_a_missing_prediction_naming_it(davis_root, tmp_path):
  results = tmp_path / 'results'
  for t in range(6):
    os.makedirs(results / 'alpha', exist_ok=True)
    Image.fromarray(square_ids(40, 64, t, 2), mode='P').save(results / 'alpha' / f'{t:05d}.png')
  with pytest.raises(DatasetError, match=r'beta/00000\.png: missing prediction'):
    score_folder(str(results), davis_root, 'val', workers=1)


def test_re_evaluating_a_workdir_after_more_training_replaces_its_results(workdir, davis_root, tmp_path):
  """The default folder <workdir>/eval/<split> holds the last run's masks, CSVs and statistics; evaluating the same
  workdir after another checkpoint is saved replaces them (it used to refuse its own eval_stats-<split>.json)."""
  import shutil
  trained = tmp_path / 'workdir'
  shutil.copytree(workdir, trained)
  first = evaluate_checkpoint(_davis_config(davis_root), str(trained), 'val')
  out = trained / 'eval' / 'val'
  assert first['results_path'] == str(out) and json.loads((out / 'eval_stats-val.json').read_text())['frames'] == 46
  config = synthetic.get_config()  # "more training": a checkpoint of step 9 with other weights
  model = VOSNet(ModelConfig.from_dict(config.model.to_dict()))
  manager = checkpoints.checkpoint_manager(str(trained))
  checkpoints.save(manager, 9, create_train_state(init_variables(model, seed=5), make_optimizer(1e-3)))
  manager.wait_until_finished()
  second = evaluate_checkpoint(_davis_config(davis_root), str(trained), 'val')
  assert second['checkpoint'].endswith('checkpoints/9') and second['frames'] == 46
  stats = json.loads((out / 'eval_stats-val.json').read_text())
  assert stats['checkpoint'].endswith('checkpoints/9') and stats['resumed_videos'] == 0  # nothing kept from step 7
  assert sorted(os.listdir(out / 'alpha')) == [f'{t:05d}.png' for t in range(6)]
  # A step folder names one checkpoint, as for segment and export; its results go to its workdir's eval folder.
  again = evaluate_checkpoint(_davis_config(davis_root), str(trained / 'checkpoints' / '7'), 'val')
  assert again['checkpoint'].endswith('checkpoints/7') and again['results_path'] == str(out)
  assert again['J&F-Mean'] == pytest.approx(first['J&F-Mean'], abs=1e-12)


def test_a_config_of_another_network_is_refused_naming_the_fields(workdir, davis_root, tmp_path):
  from vosjax.inference.checkpoint_loading import NetworkMismatchError
  config = _davis_config(davis_root)
  config.model.use_cam = False  # an architecture field: refused
  with pytest.raises(NetworkMismatchError, match=r'config\.json: .*use_cam \(trained: True, given: False\)'):
    evaluate_checkpoint(config, workdir, 'val', str(tmp_path / 'out'))
  assert not (tmp_path / 'out').exists()  # refused before anything is written


def test_the_memory_read_may_change_at_inference(workdir):
  import dataclasses
  from vosjax.inference.checkpoint_loading import (NetworkMismatchError, check_trained_network,
                                                   workdir_model_config)
  trained = workdir_model_config(workdir)
  read = dataclasses.replace(trained, matcher='memory_bank', memory_every=1, memory_recent=2, memory_long=2,
                             memory_long_every=5, memory_top_k=4, memory_local_radius=3)  # no parameters: what the bank keeps and reads
  check_trained_network(read, workdir)
  with pytest.raises(NetworkMismatchError, match='gam_first_frame'):  # a wider read: other parameters
    check_trained_network(dataclasses.replace(trained, gam_first_frame=True), workdir)


def _evaluate_command(workdir, davis_root, out):
  return [sys.executable, os.path.join(ROOT, 'evaluate.py'), f'--workdir={workdir}', '--split=val', f'--out={out}',
          '--config.eval.dataset=davis', f'--config.data.root={davis_root}']


def test_a_killed_evaluation_resumes_where_it_stopped(workdir, davis_root, tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_backend_optimization_level=0')
  out = tmp_path / 'killed'
  process = subprocess.Popen(_evaluate_command(workdir, davis_root, out), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
  deadline = time.time() + 300
  while not (out / '.progress' / 'alpha.json').is_file():
    assert process.poll() is None and time.time() < deadline, process.stdout.read()[-3000:]
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not (out / '.progress' / 'beta.json').is_file(), 'the run finished before it could be killed'
  result = subprocess.run(_evaluate_command(workdir, davis_root, out), capture_output=True, text=True, env=env,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Segmented 46 frames of 2 videos (1 done by an earlier run)' in result.stdout
  clean = tmp_path / 'clean'
  evaluate_checkpoint(_davis_config(davis_root), workdir, 'val', str(clean))
  for t in range(40):
    np.testing.assert_array_equal(read_mask(str(out / 'beta' / f'{t:05d}.png')),
                                  read_mask(str(clean / 'beta' / f'{t:05d}.png')))
  assert (out / 'global_results-val.csv').read_text() == (clean / 'global_results-val.csv').read_text()

  # A missing dataset stops before any model is loaded, naming the folder.
  result = subprocess.run(_evaluate_command(workdir, tmp_path / 'nowhere', out), capture_output=True, text=True,
                          env=env, timeout=300)
  assert result.returncode == 2 and 'nowhere: DAVIS root folder not found' in result.stderr


def test_youtube_vos_valid_gives_the_submission_layout_and_zip(workdir, tmp_path):
  root = write_youtube_vos(str(tmp_path / 'ytvos'))
  all_frames = tmp_path / 'valid_all_frames'
  for t in range(16):  # every frame; meta.json lists every 5th
    ids = square_ids(40, 64, t // 5, 2)
    frame = np.repeat(np.where(ids > 0, 200, 30 + t).astype(np.uint8)[..., None], 3, axis=2)
    write_jpeg(str(all_frames / 'JPEGImages' / 'vidB' / f'{t:05d}.jpg'), frame)
  config = _config(eval__dataset='youtube_vos', data__root=root, data__youtube_vos_all_frames_root=str(all_frames))
  out = tmp_path / 'out'
  results = evaluate_checkpoint(config, workdir, 'valid', str(out))
  listed = ['00000', '00005', '00010', '00015']
  assert results['frames'] == 16
  assert sorted(os.listdir(out / 'Annotations' / 'vidB')) == [f'{n}.png' for n in listed]
  masks = {n: read_mask(str(out / 'Annotations' / 'vidB' / f'{n}.png')) for n in listed}
  assert 4 not in masks['00000'] and 4 not in masks['00005']  # object 4 first appears at 00010
  given = read_mask(os.path.join(root, 'valid', 'Annotations', 'vidB', '00010.png'))
  np.testing.assert_array_equal(masks['00010'] == 4, given == 4)
  assert all(set(np.unique(m)) <= {0, 1, 4} for m in masks.values())
  with zipfile.ZipFile(results['submission']) as archive:
    assert sorted(archive.namelist()) == [f'Annotations/vidB/{n}.png' for n in listed]
  assert json.loads((out / 'eval_stats-valid.json').read_text())['frames'] == 16


def test_davis2016_release_is_segmented_and_scored_as_one_object(workdir, tmp_path):
  root = write_davis2016_release(str(tmp_path / 'davis2016'), frames=5)
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_config(eval__dataset='davis2016', data__root=root), workdir, 'val', str(out))
  assert results['frames'] == 5
  assert results['J&F-Mean'] == pytest.approx(rescored_jf(str(out), davis_videos(root, 'val', year=2016)), abs=1e-6)
  first = read_mask(str(out / 'bear' / '00000.png'))
  np.testing.assert_array_equal(first, square_ids(40, 64, 0, 1))  # the 0/255 mask became object 1
  rows = (out / 'per-sequence_results-val.csv').read_text().splitlines()
  assert [r.split(',')[0] for r in rows[1:]] == ['bear_1']
