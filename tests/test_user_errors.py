"""One error path for every entry point: a user's mistake or a damaged file is one short line on stderr and exit 2;
damaged checkpoints are skipped for the previous one; outputs never mix runs."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data_layouts import write_davis2017
from vosjax.inference.checkpoint_loading import NetworkMismatchError, load_network
from vosjax.models import VOSNet, init_variables, tiny_config
from vosjax.training import checkpoints
from vosjax.files.checkpoint_integrity import CHECKSUM_FILE, DamagedCheckpointError, check_checksums
from vosjax.training.train_state import create_train_state, make_optimizer
from vosjax.errors import ConfigError, one_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
  return dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_backend_optimization_level=0')


def _run(script, *args, timeout=300):
  command = [sys.executable, *(['-m', script] if '.' in script and not script.endswith('.py') else
                               [os.path.join(ROOT, script)]), *args]
  return subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=timeout, cwd=ROOT)


def _assert_short_error(result, *expected):
  """Exit status 2, at most 3 lines on stderr, no traceback, and each expected fragment in the message."""
  lines = [line for line in result.stderr.splitlines() if line.strip()]
  assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
  assert len(lines) <= 3 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  for fragment in expected:
    assert fragment in result.stderr, (fragment, result.stderr)


def test_one_line_flattens_messages():
  assert one_line(KeyError('\'lrr\'\nDid you mean "lr" instead of "lrr"?')) == 'lrr\' Did you mean "lr" instead of "lrr"?'
  assert one_line(ValueError('a\n  b')) == 'a b'


@pytest.mark.parametrize('script', ['train.py', 'evaluate.py'])
def test_a_misspelt_override_is_one_line(script, tmp_path):
  result = _run(script, '--config.optim.lrr=1e-3', f'--workdir={tmp_path / "w"}')
  _assert_short_error(result, '--config.optim.lrr', 'lr')
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('script', ['train.py', 'evaluate.py'])
def test_a_positional_argument_is_refused_not_ignored(script, tmp_path):
  # `train.py configs/davis.py` used to train the synthetic default silently.
  result = _run(script, 'configs/davis.py', f'--workdir={tmp_path / "w"}')
  _assert_short_error(result, 'unexpected positional arguments configs/davis.py', 'did you mean --config '
                      'configs/davis.py?')
  assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('command,required', [
    ('vosjax.segment', ['--video=v', '--mask=m', '--out=o']), ('vosjax.export', ['--checkpoint=c', '--out=o']),
    ('vosjax.demo', []), ('vosjax.visualization', ['--frame=f', '--mask=m', '--out=o.png']),
    ('vosjax.data.synthetic', ['--out=o'])])
def test_the_module_commands_parse_alike(command, required, tmp_path):
  """Every `python -m vosjax.*` command: a stray positional argument or an unknown flag is one line, status 2."""
  _assert_short_error(_run(command, *required, 'stray'), f'{command}: ', 'unrecognized arguments: stray',
                      '(see --help)')
  _assert_short_error(_run(command, *required, '--no_such_flag'), f'{command}: ', '--no_such_flag', '(see --help)')
  assert not os.path.exists(os.path.join(ROOT, 'o')) and not os.path.exists(os.path.join(ROOT, 'o.png'))


def test_train_py_input_errors_are_one_line_and_write_nothing(tmp_path):
  workdir = tmp_path / 'w'
  cases = [
      (['--config.data.sources=davis:1', '--config.data.davis_root='], ['DAVIS']),
      (['--config.train.num_steps=2'], ['--config.train.num_steps', 'warm-up']),
      (['--config.train.batch_size=0'], ['--config.train.batch_size']),
      (['--config.data.sources=imagenet:1'], ['imagenet']),
      (['--config.train.imagenet_frame_encoder=typo.pth'], ['--config.train.imagenet_frame_encoder', 'typo.pth']),
      ([f'--config.train.init_from={tmp_path / "missing" / "run"}'], ['--config.train.init_from', 'missing']),
  ]
  for flags, expected in cases:
    _assert_short_error(_run('train.py', f'--workdir={workdir}', *flags), *expected)
    assert not workdir.exists(), flags
  assert not (tmp_path / 'missing').exists()  # init_from is only read, never created
  a_file = tmp_path / 'a_file'
  a_file.write_text('not a folder')
  _assert_short_error(_run('train.py', f'--workdir={a_file}'), str(a_file), 'not a folder')
  debug = _run('train.py', f'--workdir={a_file}', '--debug')
  assert debug.returncode != 0 and 'Traceback' in debug.stderr


def test_config_checks_name_the_field():
  from vosjax.configs import synthetic
  from vosjax.training.config_checks import check_training_config
  config = synthetic.get_config()
  config.train.num_steps = 50  # fewer than the 100 warm-up steps
  with pytest.raises(ConfigError, match='num_steps'):
    check_training_config(config)
  config = synthetic.get_config()
  config.clip.crop_size = 8
  with pytest.raises(ConfigError, match='crop_size'):
    check_training_config(config)
  config = synthetic.get_config()
  config.optim.frame_encoder_lr_scale, config.optim.frame_encoder_train_blocks = 0.0, 3  # blocks with no rate
  with pytest.raises(ConfigError, match='frame_encoder_train_blocks'):
    check_training_config(config)
  check_training_config(synthetic.get_config())


def test_resuming_with_another_config_is_refused_naming_the_fields(tmp_path):
  from vosjax.configs import synthetic
  from vosjax.training.config_checks import check_resume_config
  config = synthetic.get_config()
  workdir = tmp_path / 'w'
  assert check_resume_config(config, str(workdir)) is False  # a new workdir
  _workdir_with_checkpoints(workdir)
  (workdir / 'config.json').write_text(config.to_json_best_effort(indent=1))
  assert check_resume_config(config, str(workdir)) is True
  longer = synthetic.get_config()
  longer.train.num_steps += 100
  longer.train.log_every = 7
  assert check_resume_config(longer, str(workdir)) is True  # how long and how often may change
  other = synthetic.get_config()
  other.model.matcher = 'memory_bank'
  other.clip.num_frames = 3
  with pytest.raises(ConfigError, match=r'model\.matcher.*workdir: .global.*given: .memory_bank') as error:
    check_resume_config(other, str(workdir))
  assert 'clip.num_frames' in str(error.value)
  older = json.loads(config.to_json_best_effort())
  del older['optim']['frame_encoder_train_blocks']  # written before the field existed: it reads as its default
  (workdir / 'config.json').write_text(json.dumps(older))
  assert check_resume_config(config, str(workdir)) is True
  changed = synthetic.get_config()
  changed.optim.frame_encoder_train_blocks = 2
  with pytest.raises(ConfigError, match='frame_encoder_train_blocks'):
    check_resume_config(changed, str(workdir))
  # A network whose encoder is not the defaults' (EfficientNet fields, not ResNet ones) resumes with its own config.
  from vosjax.configs import davis2016_cpu
  real = davis2016_cpu.get_config()
  (workdir / 'config.json').write_text(real.to_json_best_effort(indent=1))
  assert check_resume_config(davis2016_cpu.get_config(), str(workdir)) is True
  real.model.memory_long = 0
  with pytest.raises(ConfigError, match=r'model\.memory_long \(workdir: 4, given: 0\)'):
    check_resume_config(real, str(workdir))


def _workdir_with_checkpoints(path, steps=(1, 2)):
  """A workdir with checkpoints of the tiny network at `steps` (different parameters each) and its config.json."""
  model = VOSNet(tiny_config())
  manager = checkpoints.checkpoint_manager(str(path))
  for step in steps:
    checkpoints.save(manager, step, create_train_state(init_variables(model, seed=step), make_optimizer(1e-3)))
  manager.close()
  (path / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(tiny_config())}))
  return model


def _largest_file(folder):
  files = [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names if n != CHECKSUM_FILE]
  return max(files, key=os.path.getsize)


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(max(os.path.getsize(path) // 2, 1))


def test_evaluation_uses_the_previous_checkpoint_when_the_latest_is_damaged(tmp_path):
  model = _workdir_with_checkpoints(tmp_path)
  step2 = tmp_path / 'checkpoints' / '2'
  assert check_checksums(str(step2)) == ('intact', '')
  _truncate(_largest_file(step2 / 'state'))
  status, detail = check_checksums(str(step2))
  assert status == 'damaged' and 'bytes' in detail
  notes = []
  _, variables, location = load_network(str(tmp_path), report=notes.append)
  assert location.step == 1
  assert any('step 2' in note or '/2:' in note for note in notes) and 'using the checkpoint of step 1' in notes[-1]
  expected = init_variables(model, seed=1)['params']
  np.testing.assert_array_equal(variables['params']['key_proj']['kernel'], expected['key_proj']['kernel'])
  with pytest.raises(DamagedCheckpointError, match='/2'):  # a step asked for by name is not replaced
    load_network(str(tmp_path), step=2, report=notes.append)
  _truncate(os.path.join(tmp_path, 'checkpoints', '1', '_CHECKPOINT_METADATA'))
  with pytest.raises(DamagedCheckpointError, match='no checkpoint could be read'):
    load_network(str(tmp_path), report=notes.append)


def test_an_intact_checkpoint_of_another_network_is_a_mismatch_not_damage(tmp_path):
  _workdir_with_checkpoints(tmp_path, steps=(1,))
  other = dataclasses.replace(tiny_config(), use_cam=False, use_mem=False)
  (tmp_path / 'config.json').write_text(json.dumps({'model': dataclasses.asdict(other)}))
  with pytest.raises(NetworkMismatchError):
    load_network(str(tmp_path), report=lambda line: None)


def test_evaluate_py_with_every_checkpoint_damaged_is_one_line(tmp_path):
  _workdir_with_checkpoints(tmp_path, steps=(1,))
  _truncate(_largest_file(tmp_path / 'checkpoints' / '1' / 'state'))
  from vosjax.configs import synthetic
  (tmp_path / 'config.json').write_text(synthetic.get_config().to_json_best_effort())
  root = write_davis2017(str(tmp_path / 'davis'), {'a': ('val', 3, 1)})
  result = _run('evaluate.py', f'--workdir={tmp_path}', '--split=val', '--config.eval.dataset=davis',
                f'--config.data.root={root}', '--config.model.use_cam=True')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert 'no checkpoint could be read' in result.stderr or 'cannot be read' in result.stderr, result.stderr


def test_a_failed_rescore_leaves_no_earlier_csv(tmp_path):
  root = write_davis2017(str(tmp_path / 'davis'), {'a': ('val', 3, 1)})
  results = tmp_path / 'results'
  (results / 'a').mkdir(parents=True)
  from vosjax.data.image_io import read_mask, write_indexed_png
  for t in range(3):
    write_indexed_png(str(results / 'a' / f'{t:05d}.png'),
                      read_mask(os.path.join(root, 'Annotations', '480p', 'a', f'{t:05d}.png')))
  ok = _run('evaluate.py', f'--results_path={results}', f'--davis_root={root}', '--split=val')
  assert ok.returncode == 0 and (results / 'global_results-val.csv').is_file(), ok.stderr[-2000:]
  os.remove(results / 'a' / '00001.png')  # the folder no longer matches the ground truth
  failed = _run('evaluate.py', f'--results_path={results}', f'--davis_root={root}', '--split=val')
  _assert_short_error(failed, '00001')
  assert not (results / 'global_results-val.csv').exists()
  assert not (results / 'per-sequence_results-val.csv').exists()


def test_a_benchmark_script_refuses_bad_arguments_in_one_line(tmp_path):
  script = os.path.join(ROOT, 'benchmarks', 'ablations.py')
  missing = subprocess.run([sys.executable, script, f'--davis_root={tmp_path}/none'], capture_output=True, text=True,
                           timeout=120, env=_env())
  assert missing.returncode == 2 and 'none' in missing.stderr and 'Traceback' not in missing.stderr
  unknown = subprocess.run([sys.executable, script, f'--davis_root={tmp_path}', '--only=full,bogus',
                            f'--out={tmp_path}/out'], capture_output=True, text=True, timeout=120, env=_env())
  assert unknown.returncode == 2 and 'bogus' in unknown.stderr and not os.path.exists(tmp_path / 'out')
