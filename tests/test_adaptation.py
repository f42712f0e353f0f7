"""Test-time adaptation to the first frame: pseudo-clips of the one frame, what trains and what does not, the loss on
the frame falling, and the segmenter going back to the trained variables after each video."""

import functools

import flax
import jax
import numpy as np
import pytest

from vosjax.configs import base
from vosjax.data.augment import normalize_frames
from vosjax.data.eval_stream import EvalFrame
from vosjax.data.labels import first_frame_masks
from vosjax.errors import ConfigError
from vosjax.evaluation import evaluate_lib
from vosjax.inference import VideoSegmenter
from vosjax.models import VOSNet, init_variables, tiny_config, unroll_clip
from vosjax.training.adaptation import AdaptingSegmenter, FirstFrameAdapter
from vosjax.training.loss import segmentation_loss

MODEL = VOSNet(tiny_config())


@functools.lru_cache(maxsize=None)
def _variables():
  return init_variables(MODEL, seed=0)


def _frame_and_ids(height=64, width=80, seed=0):
  rng = np.random.default_rng(seed)
  frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
  ids = np.zeros((height, width), np.uint8)
  ids[10:34, 12:40] = 3
  frame[10:34, 12:40] = (240, 20, 20)
  ids[40:60, 50:74] = 5
  frame[40:60, 50:74] = (20, 20, 240)
  return frame, ids


@functools.lru_cache(maxsize=None)
def _adapter():
  """One adapter (one compiled step) for the tests that adapt."""
  return FirstFrameAdapter(MODEL, steps=10, learning_rate=3e-3, crop_size=48, batch_size=2)


def test_pseudo_clips_are_warped_copies_of_the_frame_with_its_objects():
  frame, ids = _frame_and_ids()
  batch = _adapter().pseudo_clips(np.random.default_rng(0), frame, ids, short_side=None)
  assert batch['frames'].shape == (2, 3, 48, 48, 3) and batch['frames'].dtype == np.uint8
  assert batch['labels'].shape == (2, 3, 48, 48) and batch['object_valid'].shape == (2, 2)
  assert batch['object_valid'][:, 0].all()
  for clip in batch['labels']:
    assert (clip[0] > 0).sum() >= 16  # a target in the first frame
    assert set(np.unique(clip)) <= {0, 1, 2}
    assert not np.array_equal(clip[0], clip[1])  # each frame moved on its own


def test_no_object_to_crop_means_no_adaptation():
  frame, _ = _frame_and_ids()
  variables = _variables()
  adapted = _adapter().adapt(variables, frame, np.zeros(frame.shape[:2], np.uint8), short_side=None)
  for old, new in zip(jax.tree.leaves(variables), jax.tree.leaves(adapted)):
    np.testing.assert_array_equal(old, new)


@jax.jit
def _first_frame_loss(variables, batch):
  labels = batch['labels'].astype(np.int32)
  masks = first_frame_masks(labels, batch['object_valid'].shape[1])
  logits = unroll_clip(MODEL, variables, normalize_frames(batch['frames']), masks, batch['object_valid'])
  return segmentation_loss(logits, labels[:, 1:], 1.0)


def test_adaptation_fits_the_first_frame_and_leaves_the_encoder_and_statistics_alone():
  frame, ids = _frame_and_ids()
  variables = _variables()
  adapter = _adapter()
  count = len(adapter.seconds)
  adapted = adapter.adapt(variables, frame, ids, short_side=None)
  held_out = adapter.pseudo_clips(np.random.default_rng(7), frame, ids, short_side=None)  # clips it never saw
  assert float(_first_frame_loss(adapted, held_out)) < 0.9 * float(_first_frame_loss(variables, held_out))
  flat_old = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables['params']))
  flat_new = flax.traverse_util.flatten_dict(flax.core.unfreeze(adapted['params']))
  encoder = [np.array_equal(flat_old[p], flat_new[p]) for p in flat_old if p[0] == 'frame_encoder']
  heads = [np.array_equal(flat_old[p], flat_new[p]) for p in flat_old if p[0] != 'frame_encoder']
  assert encoder and all(encoder)
  assert heads and not any(heads)
  for old, new in zip(jax.tree.leaves(variables['batch_stats']), jax.tree.leaves(adapted['batch_stats'])):
    np.testing.assert_array_equal(old, new)
  assert len(adapter.seconds) == count + 1 and adapter.seconds[-1] > 0


def _video(num_frames=4):
  frame, ids = _frame_and_ids()
  for t in range(num_frames):
    image = np.roll(frame, 2 * t, axis=1)
    yield EvalFrame(index=t, name=f'{t:05d}', image=image, given_ids=ids if t == 0 else None,
                    new_object_ids=(3, 5) if t == 0 else ())


def test_the_segmenter_adapts_per_video_and_returns_to_the_trained_variables():
  segmenter = VideoSegmenter(MODEL, _variables())
  plain = [ids for _, ids in segmenter.segment(_video())]
  adapting = AdaptingSegmenter(segmenter, _adapter())
  count = len(adapting.adapter.seconds)
  first = [ids for _, ids in adapting.segment(_video())]
  second = [ids for _, ids in adapting.segment(_video())]
  assert len(first) == len(plain) == 4
  np.testing.assert_array_equal(first[0], plain[0])  # the given mask comes back as it was
  for a, b in zip(first, second):  # each video starts from the trained variables, with the same pseudo-clips
    np.testing.assert_array_equal(a, b)
  for trained, now in zip(jax.tree.leaves(_variables()), jax.tree.leaves(segmenter.variables)):
    np.testing.assert_array_equal(trained, now)  # back to the trained variables after each video
  assert any(not np.array_equal(a, b) for a, b in zip(first[1:], plain[1:]))  # the adapted heads segment differently
  assert len(adapting.adapter.seconds) == count + 2


@pytest.mark.parametrize('kwargs', [dict(steps=-1), dict(steps=1, learning_rate=0.0), dict(steps=1, num_frames=1)])
def test_bad_settings_are_refused(kwargs):
  with pytest.raises(ValueError, match='adaptation'):
    FirstFrameAdapter(MODEL, **kwargs)


@pytest.mark.parametrize('adapt_steps, videos_per_batch, message', [(-1, 1, 'at least 0'), (5, 2, 'videos_per_batch=1')])
def test_evaluate_refuses_adaptation_it_cannot_do(adapt_steps, videos_per_batch, message):
  config = base.get_config()
  config.eval.adapt_steps = adapt_steps
  config.eval.videos_per_batch = videos_per_batch
  with pytest.raises(ConfigError, match=message):
    evaluate_lib._check_eval_settings(config)
