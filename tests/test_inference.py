"""The inference engine: geometry (internal resolution, stride padding), equality with the network's step, objects
joining mid-video, flat memory over a long video, bf16."""

import dataclasses
import functools
import resource

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.data.eval_stream import EvalFrame
from vosjax.inference import VideoSegmenter
from vosjax.inference.resolution import FrameGeometry, network_frame, network_masks, original_probabilities
from vosjax.models import VOSNet, init_variables, tiny_config

MODEL = VOSNet(tiny_config())


@functools.lru_cache(maxsize=None)
def _variables():
  return init_variables(MODEL, seed=0)


def _video(num_frames, height, width, ids_at_start=(3, 7), joins=None, seed=0):
  """EvalFrames of moving boxes; `joins` = {frame index: (object id, box)} adds a given mask mid-video."""
  rng = np.random.default_rng(seed)
  background = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
  for t in range(num_frames):
    image = background.copy()
    given, new = None, ()
    if t == 0:
      given = np.zeros((height, width), np.uint8)
      for k, object_id in enumerate(ids_at_start):
        given[4 + 12 * k:12 + 12 * k, 6:18] = object_id
      new = tuple(sorted(ids_at_start))
    elif joins and t in joins:
      object_id, (y0, y1, x0, x1) = joins[t]
      given = np.zeros((height, width), np.uint8)
      given[y0:y1, x0:x1] = object_id
      new = (object_id,)
    image[(t * 2) % height:(t * 2) % height + 8, 20:30] = (250, 30, 30)
    yield EvalFrame(index=t, name=f'{t:05d}', image=image, given_ids=given, new_object_ids=new)


def test_geometry_of_internal_resolution_and_padding():
  native = FrameGeometry.for_frame(100, 130)
  assert native.internal == (100, 130) and native.padded == (112, 144) and not native.resized
  two_k = FrameGeometry.for_frame(1080, 2048, short_side=480)
  assert two_k.internal == (480, 910) and two_k.padded == (480, 912) and two_k.resized
  assert FrameGeometry.for_frame(360, 640, short_side=480).internal == (360, 640)  # never upsampled


def test_a_mask_survives_the_trip_through_internal_resolution():
  geometry = FrameGeometry.for_frame(270, 500, short_side=120)  # internal 120x222, padded 128x224
  yy, xx = np.mgrid[:270, :500]
  mask = (((yy - 120) ** 2 + (xx - 200) ** 2 < 70 ** 2) | ((yy > 30) & (yy < 90) & (xx > 350))).astype(np.float32)
  small = network_masks(jnp.asarray(mask[None]), geometry)
  assert small.shape == (1, 128, 224)
  np.testing.assert_array_equal(small[:, 120:], 0)  # nothing in the padding
  np.testing.assert_array_equal(small[:, :, 222:], 0)
  logits = jnp.log(jnp.clip(jnp.concatenate([1 - small, small]), 1e-6, 1))
  back = np.asarray(jnp.argmax(original_probabilities(logits, geometry), axis=0))
  assert back.shape == (270, 500)
  iou = np.sum((back == 1) & (mask == 1)) / np.sum((back == 1) | (mask == 1))
  assert iou > 0.97
  frame = network_frame(jnp.zeros((270, 500, 3), jnp.uint8), geometry)
  assert frame.shape == (128, 224, 3) and frame.dtype == jnp.float32


def test_engine_equals_the_networks_own_steps_and_maps_ids():
  frames = list(_video(5, 48, 64))
  outputs = list(VideoSegmenter(MODEL, _variables()).segment(iter(frames)))
  assert [f.index for f, _ in outputs] == list(range(5))
  np.testing.assert_array_equal(outputs[0][1], frames[0].given_ids)
  # The same frames through VOSNet.start / VOSNet.step by hand (48x64 needs no resize or padding).
  from vosjax.data.augment import normalize_frames
  masks = np.stack([frames[0].given_ids == 3, frames[0].given_ids == 7]).astype(np.float32)
  state = MODEL.apply(_variables(), normalize_frames(frames[0].image)[None], masks[None], np.ones((1, 2), bool),
                      method=VOSNet.start)
  for frame, (_, ids) in zip(frames[1:], outputs[1:]):
    state, logits = MODEL.apply(_variables(), state, normalize_frames(frame.image)[None], method=VOSNet.step)
    slots = np.asarray(jnp.argmax(logits[0], axis=0))
    np.testing.assert_array_equal(ids, np.array([0, 3, 7])[slots])


def test_frames_off_the_stride_come_back_at_their_own_size():
  outputs = list(VideoSegmenter(MODEL, _variables()).segment(_video(3, 50, 70)))
  assert all(ids.shape == (50, 70) and ids.dtype == np.uint8 for _, ids in outputs)
  assert set(np.unique(np.concatenate([ids.ravel() for _, ids in outputs]))) <= {0, 3, 7}


def test_an_object_joining_mid_video_leaves_earlier_frames_alone():
  box = (30, 44, 40, 60)
  joins = {3: (5, box)}
  plain = [ids for _, ids in VideoSegmenter(MODEL, _variables()).segment(_video(6, 48, 64), num_objects=3)]
  joined = [ids for _, ids in VideoSegmenter(MODEL, _variables()).segment(_video(6, 48, 64, joins=joins),
                                                                          num_objects=3)]
  for t in range(3):
    np.testing.assert_array_equal(joined[t], plain[t])  # the same slots, no join yet: identical frames
    assert 5 not in joined[t]
  given = np.zeros((48, 64), bool)
  given[box[0]:box[1], box[2]:box[3]] = True
  np.testing.assert_array_equal(joined[3] == 5, given)  # the given mask is the output where it joins
  assert all(set(np.unique(ids)) <= {0, 3, 5, 7} for ids in joined)


def test_five_hundred_frames_run_with_flat_memory():
  segmenter = VideoSegmenter(MODEL, _variables())
  state_sizes, rss = [], {}
  original_step = segmenter._step

  def recording_step(*args, **kwargs):
    state, labels = original_step(*args, **kwargs)
    state_sizes.append(sum(x.nbytes for x in jax.tree.leaves(state)))
    return state, labels

  segmenter._step = recording_step
  for frame, ids in segmenter.segment(_video(500, 96, 128)):
    assert ids.shape == (96, 128)
    if frame.index in (100, 499):
      rss[frame.index] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  assert len(state_sizes) == 499 and len(set(state_sizes)) == 1  # the state never grows
  # Keeping every frame (37 KiB of RGB, 12 KiB of labels each) would add 20 MB over these 400 frames.
  assert rss[499] - rss[100] < 8 * 2**20, rss


def test_bfloat16_engine_computes_in_bfloat16():
  frames = list(_video(4, 48, 64))
  bf16_model = VOSNet(dataclasses.replace(tiny_config(), dtype='bfloat16'))
  segmenter = VideoSegmenter(bf16_model, _variables())
  outputs = [ids for _, ids in segmenter.segment(iter(frames))]
  assert all(ids.shape == (48, 64) and set(np.unique(ids)) <= {0, 3, 7} for ids in outputs)
  geometry = segmenter.geometry(48, 64)
  masks = np.stack([frames[0].given_ids == 3, frames[0].given_ids == 7]).astype(np.float32)
  state = segmenter._start(_variables(), frames[0].image, masks, np.ones(2, bool), geometry=geometry)
  hlo = segmenter._step.lower(_variables(), state, frames[1].image, None, None, geometry=geometry,
                              store=True).as_text()
  assert 'convolution' in hlo and 'bf16' in hlo
  fp32_hlo = VideoSegmenter(MODEL, _variables())._step.lower(_variables(), state, frames[1].image, None, None,
                                                             geometry=geometry, store=True).as_text()
  assert 'bf16' not in fp32_hlo
