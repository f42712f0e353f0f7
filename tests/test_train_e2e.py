"""End to end through train.py: train a few steps, checkpoint, SIGKILL, resume bit-identically, Ctrl-C, NaN, evaluate."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from vosjax.data.synthetic import SyntheticSpec, write_dataset

pytestmark = pytest.mark.slow  # every test here starts train.py in a subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = SyntheticSpec(height=48, width=64, train_videos=4, val_videos=2, train_frames=(8, 10), val_frames=(6, 6),
                     texture_size=32)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
  return write_dataset(str(tmp_path_factory.mktemp('synthetic') / 'data'), seed=0, spec=SPEC, processes=1)


def _command(workdir, data_root, steps, *extra):
  return [sys.executable, os.path.join(ROOT, 'train.py'), f'--workdir={workdir}',
          f'--config.data.synthetic_root={data_root}', f'--config.train.num_steps={steps}',
          '--config.train.checkpoint_every=3', '--config.train.log_every=1', '--config.train.eval_every=0',
          '--config.data.val_videos=2', '--config.data.num_workers=0', '--config.clip.crop_size=32',
          '--config.clip.num_frames=3', '--config.clip.min_object_pixels=5', '--config.train.batch_size=2',
          '--config.optim.warmup_steps=0', *extra]


def _env():
  env = dict(os.environ)
  env['JAX_PLATFORMS'] = 'cpu'
  env['XLA_FLAGS'] = '--xla_backend_optimization_level=0'
  return env


def _final_params(workdir):
  import jax
  from vosjax.models import ModelConfig, VOSNet, init_variables
  from vosjax.training import checkpoints
  from vosjax.training.train_state import create_train_state, make_optimizer
  config = json.load(open(os.path.join(workdir, 'config.json')))
  model = VOSNet(ModelConfig.from_dict(config['model']))
  optimizer = make_optimizer(config['optim']['lr'])
  abstract = jax.eval_shape(lambda: create_train_state(init_variables(model), optimizer))
  manager = checkpoints.checkpoint_manager(workdir)
  state, step = checkpoints.restore(manager, abstract)
  return step, jax.device_get(state.params)


def test_train_kill_resume_is_exact_and_evaluates(tmp_path, data_root):
  straight = tmp_path / 'straight'
  result = subprocess.run(_command(straight, data_root, 6), capture_output=True, text=True, env=_env(), timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'step 6/6' in result.stdout and 'eta' in result.stdout
  assert 'Final validation on 2 synthetic videos: J&F' in result.stdout
  lines = [json.loads(line) for line in open(straight / 'metrics.jsonl')]
  assert [l['step'] for l in lines if 'loss' in l] == [1, 2, 3, 4, 5, 6]
  assert any('val_JF' in l and 'copy_first_frame_JF' in l for l in lines)
  assert os.listdir(straight / 'tensorboard') and (straight / 'config.json').is_file()
  # evaluate.py on the trained workdir: the same J&F as training's final validation, now with PNGs and CSVs.
  evaluation = subprocess.run([sys.executable, os.path.join(ROOT, 'evaluate.py'), f'--workdir={straight}',
                               '--split=val', f'--config.data.synthetic_root={data_root}'],
                              capture_output=True, text=True, env=_env(), timeout=600)
  assert evaluation.returncode == 0, evaluation.stderr[-3000:]
  trained_jf = result.stdout.split('Final validation on 2 synthetic videos: J&F ')[1][:5]
  global_csv = (straight / 'eval' / 'val' / 'global_results-val.csv').read_text().splitlines()
  assert global_csv[1].split(',')[0] == trained_jf
  assert (straight / 'eval' / 'val' / 'val000' / '00000.png').is_file()

  killed = tmp_path / 'killed'
  process = subprocess.Popen(_command(killed, data_root, 6), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=_env())
  deadline = time.time() + 600
  while not (killed / 'checkpoints' / '3').is_dir():
    assert process.poll() is None and time.time() < deadline, 'no checkpoint at step 3'
    time.sleep(0.01)  # steps 4-6 take far longer than this, so the kill lands before the final checkpoint
  process.send_signal(signal.SIGKILL)
  process.wait()
  result = subprocess.run(_command(killed, data_root, 6), capture_output=True, text=True, env=_env(), timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Resuming from the checkpoint of step 3 ' in result.stdout, result.stdout[-3000:]
  lines = [json.loads(line) for line in open(killed / 'metrics.jsonl')]
  assert [l['step'] for l in lines if 'loss' in l] == [1, 2, 3, 4, 5, 6]  # none logged twice across the kill
  step_a, params_a = _final_params(straight)
  step_b, params_b = _final_params(killed)
  assert step_a == step_b == 6
  for a, b in zip(jax_leaves(params_a), jax_leaves(params_b)):
    np.testing.assert_array_equal(a, b)  # bit-identical on CPU

  # A next stage starts from this one's parameters (as main training starts from COCO pre-training).
  next_stage = tmp_path / 'next_stage'
  result = subprocess.run(_command(next_stage, data_root, 1, f'--config.train.init_from={straight}',
                                   '--config.optim.lr=0.0'), capture_output=True, text=True, env=_env(), timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Initialised from {straight} (step 6)' in result.stdout
  _, params_c = _final_params(next_stage)
  for a, c in zip(jax_leaves(params_a), jax_leaves(params_c)):
    np.testing.assert_array_equal(a, c)  # a zero learning rate keeps the loaded parameters


def jax_leaves(tree):
  import jax
  return jax.tree.leaves(tree)


def test_ctrl_c_saves_a_checkpoint(tmp_path, data_root):
  workdir = tmp_path / 'interrupted'
  # One grain worker process, and the signal to the whole process group, as a terminal's Ctrl-C is sent.
  process = subprocess.Popen(_command(workdir, data_root, 1000, '--config.data.num_workers=1'),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
                             start_new_session=True)
  output = ''
  while 'step 4/1000' not in output:
    line = process.stdout.readline()
    assert line, output[-3000:]
    output += line
  os.killpg(process.pid, signal.SIGINT)
  output += process.communicate(timeout=300)[0]
  assert 'Interrupted (SIGINT) at step' in output, output[-3000:]
  interrupted_step = int(output.split('Interrupted (SIGINT) at step ')[1].split(':')[0])
  assert interrupted_step >= 4
  assert (workdir / 'checkpoints' / str(interrupted_step)).is_dir()
  assert process.returncode == 130, output[-3000:]
  assert 'Traceback' not in output, output[-3000:]  # the worker left the signal to the main process


def test_non_finite_loss_stops_the_run_naming_the_step(tmp_path, data_root):
  workdir = tmp_path / 'nan'
  # A checkpoint every step: the good steps before the bad one are saved, the bad one and later ones never are.
  result = subprocess.run(_command(workdir, data_root, 6, '--config.optim.lr=1e30', '--config.train.checkpoint_every=1',
                                   '--config.train.log_every=100'),
                          capture_output=True, text=True, env=_env(), timeout=600)
  assert result.returncode == 2, result.stderr[-3000:]
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert len(lines) <= 3 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  message = lines[-1]
  assert message.startswith('train.py: the ') and ' is ' in message and 'at step' in message, result.stderr[-3000:]
  bad_step = int(message.split('at step ')[1].split(';')[0])
  saved = sorted(int(name) for name in os.listdir(workdir / 'checkpoints') if name.isdigit())
  assert bad_step >= 2 and saved and saved[-1] == bad_step - 1, (bad_step, saved)


def test_a_damaged_latest_checkpoint_resumes_from_the_previous_one(tmp_path, data_root):
  """Truncating a file of the latest checkpoint: the resume reports it in one line, continues from the previous
  checkpoint to the end, and ends with the parameters of an undamaged run."""
  damaged = tmp_path / 'damaged'
  # A constant learning rate: the first run stops at step 4, so a schedule over num_steps would differ from the others'.
  every_2 = ('--config.train.checkpoint_every=2', '--config.optim.schedule=constant')
  result = subprocess.run(_command(damaged, data_root, 4, *every_2), capture_output=True, text=True, env=_env(),
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  state_dir = damaged / 'checkpoints' / '4' / 'state'
  files = [os.path.join(d, n) for d, _, names in os.walk(state_dir) for n in names]
  biggest = max(files, key=os.path.getsize)
  with open(biggest, 'r+b') as f:
    f.truncate(os.path.getsize(biggest) // 2)
  result = subprocess.run(_command(damaged, data_root, 6, *every_2), capture_output=True, text=True, env=_env(),
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  notes = [line for line in result.stderr.splitlines() if 'damaged' in line]
  assert len(notes) == 1 and 'step 4' in notes[0] and 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert 'Resuming from the checkpoint of step 2 ' in result.stdout, result.stdout[-3000:]
  assert (damaged / 'damaged_checkpoints' / '4').is_dir()
  straight = tmp_path / 'straight'
  result = subprocess.run(_command(straight, data_root, 6, *every_2), capture_output=True, text=True, env=_env(),
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  step_a, params_a = _final_params(straight)
  step_b, params_b = _final_params(damaged)
  assert step_a == step_b == 6
  for a, b in zip(jax_leaves(params_a), jax_leaves(params_b)):
    np.testing.assert_array_equal(a, b)
