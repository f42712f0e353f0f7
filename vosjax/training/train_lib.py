"""The training loop: data, sharded init or resume, jitted steps, logging, checkpoints, validation.

`train_and_evaluate(config, workdir)` is what `train.py` runs. Faults: a run started on a workdir with checkpoints
resumes from the latest (state and input position); a non-finite loss stops the run naming the step, before any
checkpoint could store it; Ctrl-C saves a checkpoint, then stops.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import jax
import numpy as np

from vosjax.data.pipeline import training_dataset
from vosjax.evaluation import copy_first_frame, evaluate_videos
from vosjax.inference import VideoSegmenter
from vosjax.models import ModelConfig, VOSNet, init_variables, paper_config
from vosjax.progress import format_duration
from vosjax.training import checkpoints
from vosjax.training.config_checks import check_training_config, check_workdir
from vosjax.training.datasets import clip_config, training_sources, validation_videos
from vosjax.training.sharding import check_batch_size, data_mesh, global_batch, replicated
from vosjax.training.stop_signals import StopRequest
from vosjax.training.train_state import TrainState, create_train_state, learning_rate_schedule, make_optimizer
from vosjax.training.train_step import make_train_step
from vosjax.user_errors import ConfigError, UserError
from vosjax.weights import load_imagenet_encoders


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


def _initial_variables(config, model: VOSNet) -> dict:
  variables = init_variables(model, seed=config.seed)
  train = config.train
  if train.imagenet_frame_encoder or train.imagenet_mask_encoder:
    variables = load_imagenet_encoders(variables, train.imagenet_frame_encoder or None,
                                       train.imagenet_mask_encoder or None)
  if train.init_from:  # a previous stage's checkpoint (e.g. COCO pre-training before main training)
    # The restore target needs the previous stage's optimiser-state structure: it is taken to have used the same
    # `optim.train_bn_affine` and `optim.clip_grad_norm` settings as this stage (the learning rate does not matter).
    optimizer = make_optimizer(1.0, config.optim.train_bn_affine, config.optim.clip_grad_norm or None)
    manager = checkpoints.checkpoint_manager(train.init_from)
    abstract = jax.eval_shape(lambda: create_train_state(variables, optimizer))
    state, step = checkpoints.restore(manager, abstract)
    print(f'Initialised from {train.init_from} (step {step})', flush=True)
    variables = state.variables
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

  On resume from step S, the JSON lines of steps after S (written before a crash, and about to be redone) are dropped.
  """

  def __init__(self, workdir: str, resumed_at: int = 0):
    self._active = jax.process_index() == 0
    if self._active:
      from tensorboardX import SummaryWriter
      path = os.path.join(workdir, 'metrics.jsonl')
      kept = []
      if os.path.exists(path):
        with open(path) as f:
          steps = [(line, _step_of(line)) for line in f]
        kept = [line for line, step in steps if step is not None and step <= resumed_at]
      self._json = open(path, 'w')
      self._json.writelines(kept)
      self._tensorboard = SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, metrics: dict[str, float]) -> None:
    if not self._active:
      return
    self._json.write(json.dumps({'step': step, **metrics}) + '\n')
    self._json.flush()
    for name, value in metrics.items():
      self._tensorboard.add_scalar(name, value, step)
    self._tensorboard.flush()

  def close(self) -> None:
    if self._active:
      self._json.close()
      self._tensorboard.close()


def validate(model: VOSNet, state: TrainState, videos, max_objects: int, short_side: int | None = None
             ) -> dict[str, float]:
  """J&F of the current parameters on the validation videos (at `short_side` internally, as evaluate.py)."""
  params = jax.device_get(state.variables)
  segmenter = VideoSegmenter(model, params, num_objects=max_objects, short_side=short_side or None)
  summary, stats = evaluate_videos(segmenter, videos)
  return {'val_JF': summary.global_results['J&F-Mean'], 'val_J': summary.global_results['J-Mean'],
          'val_F': summary.global_results['F-Mean'], 'val_fps': stats['fps']}


def train_and_evaluate(config, workdir: str) -> dict[str, Any]:
  """Trains as `config` says, in `workdir`; returns the final metrics (including the last validation)."""
  train = config.train
  # Everything that can fail on bad input happens before anything is written or compiled.
  check_workdir(workdir)
  check_training_config(config)
  sources = training_sources(config.data)
  val_videos = validation_videos(config.data)
  check_encoder_initialisation(config)
  clips = clip_config(config)
  model = VOSNet(ModelConfig.from_dict(config.model.to_dict()))
  os.makedirs(workdir, exist_ok=True)
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=1))

  mesh = data_mesh()
  local_batch_size = check_batch_size(train.batch_size, mesh)
  schedule = learning_rate_schedule(config.optim.lr, config.optim.schedule, train.num_steps, config.optim.warmup_steps)
  optimizer = make_optimizer(schedule, config.optim.train_bn_affine, config.optim.clip_grad_norm or None)
  state_sharding = replicated(mesh)
  dataset = training_dataset(sources, clips, local_batch_size, seed=config.seed, num_workers=config.data.num_workers,
                             shard_index=jax.process_index(), shard_count=jax.process_count())
  data_iterator = iter(dataset)
  manager = checkpoints.checkpoint_manager(workdir, max_to_keep=train.keep_checkpoints)

  abstract_state = jax.eval_shape(lambda: create_train_state(init_variables(model, config.seed), optimizer))
  abstract_state = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=state_sharding),
                                abstract_state)
  if manager.latest_step() is not None:
    manager.close()
    state, start_step, manager = checkpoints.restore_readable(workdir, abstract_state, data_iterator,
                                                              max_to_keep=train.keep_checkpoints)
    print(f'Resuming from the checkpoint of step {start_step} in {workdir}', flush=True)
  else:
    variables = _initial_variables(config, model)
    state = jax.device_put(create_train_state(variables, optimizer), state_sharding)
    start_step = 0

  train_step = jax.jit(make_train_step(model, optimizer, bootstrap_fraction=config.loss.bootstrap_fraction,
                                       remat=train.remat),
                       in_shardings=(state_sharding, None), out_shardings=(state_sharding, state_sharding),
                       donate_argnums=0)
  writer = _MetricWriter(workdir, resumed_at=start_step)
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
                                   f'without saving this state ({_last_checkpoint(manager)}); lower '
                                   f'--config.optim.lr or set --config.optim.clip_grad_norm')
      fetched.append(metrics)
    pending = []

  def save(step: int) -> None:
    fetch_pending()  # no state after a non-finite step is ever saved
    if manager.latest_step() != step:  # a rerun of a finished run, or a stop right after a periodic save
      checkpoints.save(manager, step, state, data_iterator)

  def every(step: int, interval: int) -> bool:
    return interval > 0 and step % interval == 0  # 0: never

  began = time.time()
  window_start, window_step = time.time(), start_step  # the rate is measured over the last logging interval
  step = start_step
  try:
    with StopRequest() as stop:
      while step < train.num_steps and stop.requested is None:
        batch = next(data_iterator)
        broken_videos += int(np.sum(batch.pop('broken_skipped')))
        state, metrics = train_step(state, global_batch(batch, mesh))
        step += 1
        pending.append((step, metrics))
        if every(step, train.log_every) or step == train.num_steps:
          fetch_pending()
          means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
          fetched.clear()
          now = time.time()
          rate = (step - window_step) / max(now - window_start, 1e-9)
          window_start, window_step = now, step
          means.update(clips_per_s=rate * train.batch_size, learning_rate=float(schedule(step - 1)),
                       broken_videos=broken_videos)  # the rate of this step's update (optax counts from 0)
          writer.write(step, means)
          eta = format_duration((train.num_steps - step) / rate if rate > 0 else float('inf'))
          print(f'step {step}/{train.num_steps}  loss {means["loss"]:.4f}  iou {means["iou"]:.3f}  '
                f'{means["clips_per_s"]:.2f} clips/s  eta {eta}', flush=True)
          last.update(means)
        if every(step, train.checkpoint_every) and step < train.num_steps:
          save(step)
        if val_videos and every(step, train.eval_every) and step < train.num_steps:
          results = validate(model, state, val_videos, clips.max_objects, config.eval.short_side)
          writer.write(step, results)
          print(f'step {step}: validation J&F {results["val_JF"]:.3f}', flush=True)
          window_start = time.time()  # the training rate excludes validation time
    if stop.requested is not None:
      print(f'\nInterrupted ({stop.requested}) at step {step}: saving a checkpoint ...', flush=True)
      save(step)
      manager.wait_until_finished()
      print(f'Saved; run the same command again to resume from step {step}.', flush=True)
      raise KeyboardInterrupt
    save(step)
    manager.wait_until_finished()
    if val_videos:
      baseline = copy_first_frame(val_videos).global_results['J&F-Mean']
      results = validate(model, state, val_videos, clips.max_objects, config.eval.short_side)
      results['copy_first_frame_JF'] = baseline
      writer.write(step, results)
      last.update(results)
      print(f'Final validation on {len(val_videos)} {config.data.val_source} videos: J&F {results["val_JF"]:.3f} '
            f'(copy-first-frame baseline {baseline:.3f}, difference {results["val_JF"] - baseline:+.3f}); '
            f'trained {step} steps in {format_duration(time.time() - began)}', flush=True)
  finally:  # also on errors: an earlier asynchronous save completes, files and worker processes are closed
    manager.wait_until_finished()
    writer.close()
    if hasattr(data_iterator, 'close'):
      data_iterator.close()
  last['step'] = step
  return last
