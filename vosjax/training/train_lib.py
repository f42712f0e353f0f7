"""The training loop: data, sharded init or resume, jitted steps, logging, checkpoints, validation.

`train_and_evaluate(config, workdir, make_validator)` is what `train.py` runs. Faults: a run started on a workdir with
checkpoints resumes from the latest (state and input position), after checking that the config is the one the
workdir trained with; a non-finite loss stops the run naming the step, before any checkpoint could store it; Ctrl-C
saves a checkpoint, then stops. Validation is handed in from above (`vosjax.validation`), so training does not
import evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

import jax
import numpy as np

from vosjax.files import workdir as workdir_layout
from vosjax.files.atomic_write import write_text
from vosjax.files.checkpoint_integrity import read_variables
from vosjax.data.pipeline import training_dataset
from vosjax.models import ModelConfig, VOSNet, init_variables, paper_config
from vosjax.cli.progress import format_duration
from vosjax.training import checkpoints
from vosjax.training.config_checks import check_resume_config, check_training_config, check_workdir
from vosjax.training.datasets import clip_config, training_sources
from vosjax.training.sharding import check_batch_size, data_mesh, global_batch, replicated
from vosjax.training.stop_signals import StopRequest
from vosjax.training.train_state import TrainState, create_train_state, learning_rate_schedule, make_optimizer
from vosjax.training.train_step import make_train_step
from vosjax.errors import ConfigError, UserError
from vosjax.weights import load_imagenet_encoders

# (config, model) -> a callable scoring variables ({'val_JF', ...}) with `len()` videos and
# `copy_first_frame_score()`, or None for no validation (`vosjax.validation.make_validator`).
ValidatorFactory = Callable[[Any, VOSNet], Any]


class NonFiniteLossError(UserError, FloatingPointError):
  """The loss became NaN or Inf; the message names the step."""


class RandomPaperEncoderError(ConfigError):
  """A paper-size frame encoder would start from random weights (see `check_encoder_initialisation`)."""


def check_encoder_initialisation(config) -> None:
  """Refuses to train the paper's ResNet-50 frame encoder from random weights unless the config says so.

  The paper starts from ImageNet weights and freezes batch-norm statistics. On random weights those statistics are
  mean 0, variance 1 and never move, so normalisation does nothing and the network trains poorly; such a run is
  almost always a forgotten `train.imagenet_frame_encoder`, not a choice.
  """
  train = config.train
  if train.imagenet_frame_encoder or train.init_from or train.allow_random_init:
    return
  if ModelConfig.from_dict(config.model.to_dict()).frame_encoder == paper_config().frame_encoder:
    raise RandomPaperEncoderError(
        'the ResNet-50 frame encoder would start from random weights with frozen batch-norm statistics of mean 0 '
        'and variance 1; give --config.train.imagenet_frame_encoder=resnet50.pth (torchvision ImageNet weights) or '
        '--config.train.init_from=WORKDIR, or set --config.train.allow_random_init=True to train from scratch')


def check_init_from(init_from: str) -> tuple[str, int]:
  """(the checkpoints folder, its latest step) of `train.init_from`, checked before anything is written."""
  directory = workdir_layout.checkpoints_dir(init_from)
  steps = workdir_layout.checkpoint_steps(directory)
  if not steps:
    raise ConfigError(f'--config.train.init_from: {init_from} is not a training workdir with checkpoints (expected '
                      f'{directory}/<step>/, written by train.py)')
  return directory, steps[-1]


def _initial_variables(config, model: VOSNet) -> dict:
  variables = init_variables(model, seed=config.seed)
  train = config.train
  if train.imagenet_frame_encoder or train.imagenet_mask_encoder:
    variables = load_imagenet_encoders(variables, train.imagenet_frame_encoder or None,
                                       train.imagenet_mask_encoder or None)
  if train.init_from:  # a previous stage's network (e.g. COCO pre-training before main training), not its optimiser
    directory, step = check_init_from(train.init_from)
    variables = read_variables(directory, step, variables)
    print(f'Initialised from {train.init_from} (step {step})', flush=True)
  return variables


def _last_checkpoint(manager) -> str:
  step = manager.latest_step()
  return 'no checkpoint was saved' if step is None else f'the last checkpoint is step {step}'


def _step_of(json_line: str) -> int | None:
  """The step of a metrics.jsonl line; None for a line cut short by a crash."""
  try:
    return int(json.loads(json_line)['step'])
  except (ValueError, KeyError, TypeError):
    return None


class _MetricWriter:
  """JSON lines in <workdir>/metrics.jsonl and TensorBoard events in <workdir>/tensorboard (host 0 only).

  On resume from step S, the JSON lines of steps after S (written before a crash, and about to be redone) are dropped;
  the file is rewritten atomically for that, then appended to one whole line at a time.
  """

  def __init__(self, workdir: str, resumed_at: int = 0):
    self._active = jax.process_index() == 0
    if self._active:
      from tensorboardX import SummaryWriter
      path = workdir_layout.metrics_path(workdir)
      kept = []
      if os.path.exists(path):
        with open(path) as f:
          steps = [(line, _step_of(line)) for line in f]
        kept = [line if line.endswith('\n') else line + '\n' for line, step in steps
                if step is not None and step <= resumed_at]
      write_text(path, ''.join(kept))
      self._json = open(path, 'a')
      self._tensorboard = SummaryWriter(workdir_layout.tensorboard_dir(workdir))

  def write(self, step: int, metrics: dict[str, float]) -> None:
    if not self._active:
      return
    self._json.write(json.dumps({'step': step, **metrics}) + '\n')  # one write per line: a crash cuts at most it
    self._json.flush()
    for name, value in metrics.items():
      self._tensorboard.add_scalar(name, value, step)
    self._tensorboard.flush()

  def close(self) -> None:
    if self._active:
      self._json.close()
      self._tensorboard.close()


@dataclasses.dataclass
class _Run:
  """What the loop works with, built by `_set_up`."""

  config: Any
  workdir: str
  model: VOSNet
  validator: Any
  mesh: Any
  schedule: Any
  optimizer: Any
  state_sharding: Any
  data_iterator: Any
  manager: Any


def _set_up(config, workdir: str, make_validator: ValidatorFactory | None) -> _Run:
  """Checks everything that can fail on bad input, then writes the workdir and builds the model and the data."""
  train = config.train
  check_workdir(workdir)
  check_training_config(config)
  resuming = check_resume_config(config, workdir)
  sources = training_sources(config.data)
  check_encoder_initialisation(config)
  if train.init_from:
    check_init_from(train.init_from)
  clips = clip_config(config)
  model = VOSNet(ModelConfig.from_dict(config.model.to_dict()))
  validator = make_validator(config, model) if make_validator else None
  os.makedirs(workdir, exist_ok=True)
  if jax.process_index() == 0 and not resuming:  # a resumed workdir keeps the config it was started with
    workdir_layout.write_config(workdir, config.to_json_best_effort(indent=1))
  mesh = data_mesh()
  local_batch_size = check_batch_size(train.batch_size, mesh)
  schedule = learning_rate_schedule(config.optim.lr, config.optim.schedule, train.num_steps, config.optim.warmup_steps)
  optimizer = make_optimizer(schedule, config.optim.train_bn_affine, config.optim.clip_grad_norm or None,
                             config.optim.frame_encoder_lr_scale, config.optim.frame_encoder_train_blocks)
  dataset = training_dataset(sources, clips, local_batch_size, seed=config.seed, num_workers=config.data.num_workers,
                             shard_index=jax.process_index(), shard_count=jax.process_count())
  return _Run(config, workdir, model, validator, mesh, schedule, optimizer, replicated(mesh), iter(dataset),
              checkpoints.checkpoint_manager(workdir, max_to_keep=train.keep_checkpoints))


def _restore_or_init(run: _Run) -> tuple[TrainState, int]:
  """The latest readable checkpoint's state and step, or a new state at step 0."""
  config = run.config
  abstract_state = jax.eval_shape(lambda: create_train_state(init_variables(run.model, config.seed), run.optimizer))
  abstract_state = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=run.state_sharding),
                                abstract_state)
  if run.manager.latest_step() is not None:
    run.manager.close()
    state, step, run.manager = checkpoints.restore_readable(run.workdir, abstract_state, run.data_iterator,
                                                            max_to_keep=config.train.keep_checkpoints)
    print(f'Resuming from the checkpoint of step {step} in {run.workdir}', flush=True)
    return state, step
  variables = _initial_variables(config, run.model)
  return jax.device_put(create_train_state(variables, run.optimizer), run.state_sharding), 0


def _validate(run: _Run, state: TrainState) -> dict[str, float]:
  return run.validator(state.variables)


def _loop(run: _Run, state: TrainState, start_step: int, writer: _MetricWriter) -> tuple[TrainState, int, dict]:
  """Trains from `start_step` to `train.num_steps` (or a stop request); returns (state, step, last metrics)."""
  train = run.config.train
  train_step = jax.jit(make_train_step(run.model, run.optimizer, bootstrap_fraction=run.config.loss.bootstrap_fraction,
                                       bootstrap_ramp_steps=run.config.loss.bootstrap_ramp_steps,
                                       remat=train.remat,
                                       freeze_frame_encoder=run.config.optim.frame_encoder_lr_scale == 0,
                                       frame_encoder_train_blocks=run.config.optim.frame_encoder_train_blocks),
                       in_shardings=(run.state_sharding, None), out_shardings=(run.state_sharding, run.state_sharding),
                       donate_argnums=0)
  pending: list[tuple[int, dict]] = []  # device metrics not yet fetched (fetched at log and checkpoint steps)
  fetched: list[dict] = []  # host metrics fetched since the last log line
  broken_videos = 0
  last: dict[str, Any] = {}

  def fetch_pending() -> None:
    """Fetches the pending metrics, raising if a step's loss or gradient was not finite (its update is bad)."""
    nonlocal pending
    for step, metrics in jax.device_get(pending):
      for name in ('loss', 'grad_norm'):
        if not np.isfinite(metrics[name]):
          raise NonFiniteLossError(f'the {name.replace("_", " ")} is {metrics[name]} at step {step}; stopping '
                                   f'without saving this state ({_last_checkpoint(run.manager)}); lower '
                                   f'--config.optim.lr or set --config.optim.clip_grad_norm')
      fetched.append(metrics)
    pending = []

  def save(step: int) -> None:
    fetch_pending()  # no state after a non-finite step is ever saved
    if run.manager.latest_step() != step:  # a rerun of a finished run, or a stop right after a periodic save
      checkpoints.save(run.manager, step, state, run.data_iterator)

  def every(step: int, interval: int) -> bool:
    return interval > 0 and step % interval == 0  # 0: never

  window_start, window_step = time.time(), start_step  # the rate is measured over the last logging interval
  step = start_step
  with StopRequest() as stop:
    while step < train.num_steps and stop.requested is None:
      batch = next(run.data_iterator)
      broken_videos += int(np.sum(batch.pop('broken_skipped')))
      state, metrics = train_step(state, global_batch(batch, run.mesh))
      step += 1
      pending.append((step, metrics))
      if every(step, train.log_every) or step == train.num_steps:
        fetch_pending()
        means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
        fetched.clear()
        now = time.time()
        rate = (step - window_step) / max(now - window_start, 1e-9)
        window_start, window_step = now, step
        means.update(clips_per_s=rate * train.batch_size, learning_rate=float(run.schedule(step - 1)),
                     broken_videos=broken_videos)  # the rate of this step's update (optax counts from 0)
        writer.write(step, means)
        eta = format_duration((train.num_steps - step) / rate if rate > 0 else float('inf'))
        print(f'step {step}/{train.num_steps}  loss {means["loss"]:.4f}  iou {means["iou"]:.3f}  '
              f'{means["clips_per_s"]:.2f} clips/s  eta {eta}', flush=True)
        last.update(means)
      if every(step, train.checkpoint_every) and step < train.num_steps:
        save(step)
      if run.validator and every(step, train.eval_every) and step < train.num_steps:
        results = _validate(run, state)
        writer.write(step, results)
        print(f'step {step}: validation J&F {results["val_JF"]:.3f}', flush=True)
        window_start = time.time()  # the training rate excludes validation time
  if stop.requested is not None:
    print(f'\nInterrupted ({stop.requested}) at step {step}: saving a checkpoint ...', flush=True)
    save(step)
    run.manager.wait_until_finished()
    print(f'Saved; run the same command again to resume from step {step}.', flush=True)
    raise KeyboardInterrupt
  save(step)
  run.manager.wait_until_finished()
  return state, step, last


def _final_validation(run: _Run, state: TrainState, step: int, writer: _MetricWriter, seconds: float) -> dict:
  baseline = run.validator.copy_first_frame_score()
  results = _validate(run, state)
  results['copy_first_frame_JF'] = baseline
  writer.write(step, results)
  print(f'Final validation on {len(run.validator)} {run.config.data.val_source} videos: J&F {results["val_JF"]:.3f} '
        f'(copy-first-frame baseline {baseline:.3f}, difference {results["val_JF"] - baseline:+.3f}); '
        f'trained {step} steps in {format_duration(seconds)}', flush=True)
  return results


def train_and_evaluate(config, workdir: str, make_validator: ValidatorFactory | None = None) -> dict[str, Any]:
  """Trains as `config` says, in `workdir`; returns the final metrics (including the last validation).

  Args:
    config: a training config (configs/*.py).
    workdir: checkpoints, metrics and config.json go here; a workdir with checkpoints resumes.
    make_validator: builds the validation (`vosjax.validation.make_validator`); None trains without it.
  """
  run = _set_up(config, workdir, make_validator)
  began = time.time()
  state, start_step = _restore_or_init(run)
  writer = _MetricWriter(workdir, resumed_at=start_step)
  try:
    state, step, last = _loop(run, state, start_step, writer)
    if run.validator:
      last.update(_final_validation(run, state, step, writer, time.time() - began))
  finally:  # also on errors: an earlier asynchronous save completes, files and worker processes are closed
    run.manager.wait_until_finished()
    writer.close()
    if hasattr(run.data_iterator, 'close'):
      run.data_iterator.close()
  last['step'] = step
  return last
