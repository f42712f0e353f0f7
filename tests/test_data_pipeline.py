"""Training clips through grain: static shapes, determinism, exact resume, curriculum, broken videos, sharding."""

import dataclasses
import logging

import numpy as np
import pytest

from data_layouts import write_davis2017
from vosjax.data import ClipConfig, TrainingSource, davis_videos, max_skip_at_epoch, sample_frame_indices
from vosjax.data.pipeline import ClipMaker, first_frame_masks, training_dataset, training_entries

CONFIG = ClipConfig(num_frames=4, crop_size=32, max_objects=2, min_object_pixels=10)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
  root = write_davis2017(str(tmp_path_factory.mktemp('davis') / 'DAVIS'),
                         {f'seq{i}': ('train', 8, 1 + i % 3) for i in range(5)})
  return tuple(davis_videos(root, 'train'))


def _batches(dataset, count):
  iterator = iter(dataset)
  return iterator, [next(iterator) for _ in range(count)]


def test_batches_have_static_shapes_and_padded_objects(videos):
  dataset = training_dataset([TrainingSource('davis', videos)], CONFIG, batch_size=3, num_workers=0)
  _, batches = _batches(dataset, 3)
  for batch in batches:
    assert batch['frames'].shape == (3, 4, 32, 32, 3) and batch['frames'].dtype == np.uint8
    assert batch['labels'].shape == (3, 4, 32, 32) and batch['labels'].dtype == np.uint8
    assert batch['object_valid'].shape == (3, 2) and batch['broken_skipped'].shape == (3,)
    first_masks = first_frame_masks(batch['labels'], 2)
    assert first_masks.shape == (3, 2, 32, 32)
    for b in range(3):
      valid = int(batch['object_valid'][b].sum())
      assert valid >= 1 and batch['labels'][b].max() <= valid
      np.testing.assert_array_equal(first_masks[b, 0], batch['labels'][b, 0] == 1)
      assert first_masks[b, valid:].sum() == 0  # padded slots are empty
      assert np.all(first_masks[b, :valid].sum((1, 2)) >= CONFIG.min_object_pixels)  # visible in the first frame


def test_same_seed_same_batches_and_other_seed_differs(videos):
  make = lambda seed: training_dataset([TrainingSource('davis', videos)], CONFIG, 2, seed=seed, num_workers=0)
  _, a = _batches(make(0), 2)
  _, b = _batches(make(0), 2)
  _, c = _batches(make(1), 2)
  assert all(np.array_equal(x['frames'], y['frames']) for x, y in zip(a, b))
  assert not all(np.array_equal(x['frames'], y['frames']) for x, y in zip(a, c))


def test_resume_from_iterator_state_with_worker_processes(videos):
  from absl import flags
  flags.FLAGS.mark_as_parsed()  # grain workers read absl flags
  dataset = training_dataset([TrainingSource('davis', videos)], CONFIG, 2, seed=3, num_workers=2)
  iterator, _ = _batches(dataset, 3)
  state = iterator.get_state()
  expected = [next(iterator) for _ in range(2)]
  resumed = iter(dataset)
  resumed.set_state(state)
  for want in expected:
    got = next(resumed)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_curriculum_and_frame_step():
  config = ClipConfig(max_skip=10, skip_growth=5, skip_growth_epochs=20, max_skip_limit=25)
  assert [max_skip_at_epoch(config, e) for e in (0, 19, 20, 45, 200)] == [10, 10, 15, 20, 25]
  rng = np.random.default_rng(0)
  for _ in range(200):
    indices = sample_frame_indices(rng, 50, 10, max_skip=3)
    gaps = np.diff(indices)
    assert len(indices) == 10 and gaps.min() >= 1 and gaps.max() <= 4 and indices.max() < 50
  short = sample_frame_indices(rng, 12, 10, max_skip=10)  # shrunk to fit
  assert short.max() < 12 and np.all(np.diff(short) >= 1)
  tiny = sample_frame_indices(rng, 3, 10, max_skip=10)  # shorter than the clip: frames repeat in order
  assert len(tiny) == 10 and np.all(np.diff(tiny) >= 0)


def test_youtube_skips_are_divided_by_frame_step(videos, monkeypatch):
  import dataclasses
  from vosjax.data import pipeline
  seen = []
  original = pipeline.sample_frame_indices
  monkeypatch.setattr(pipeline, 'sample_frame_indices',
                      lambda rng, n, t, max_skip: seen.append(max_skip) or original(rng, n, t, max_skip))
  every_fifth = dataclasses.replace(videos[0], frame_step=5)
  pipeline.make_clip(np.random.default_rng(0), every_fifth, CONFIG, epoch=40)  # max_skip 20 real frames
  pipeline.make_clip(np.random.default_rng(0), videos[0], CONFIG, epoch=40)
  assert seen[0] == 4 and seen[-1] == 20


def test_broken_video_is_skipped_with_a_warning_and_counted(videos, tmp_path, caplog):
  import dataclasses
  broken_frame = tmp_path / 'broken.jpg'
  broken_frame.write_bytes(b'not a jpeg')
  broken = dataclasses.replace(videos[0], name='broken', frame_paths=(str(broken_frame),) * videos[0].num_frames)
  maker = ClipMaker(CONFIG, seed=0, entries=[broken, videos[1]])
  with caplog.at_level(logging.WARNING):
    clip = maker.map_with_index(0, broken)
  assert clip['broken_skipped'] >= 1 and clip['frames'].shape == (4, 32, 32, 3)
  assert 'broken.jpg: corrupt or unreadable image' in caplog.text


def test_mixing_weights_and_host_shards(videos):
  entries = training_entries([TrainingSource('davis', videos[:2], weight=5), TrainingSource('other', videos[2:])])
  assert len(entries) == 2 * 5 + 3
  full = training_dataset([TrainingSource('davis', videos)], CONFIG, 1, seed=0, num_workers=0)
  shards = [training_dataset([TrainingSource('davis', videos)], CONFIG, 1, seed=0, num_workers=0, shard_index=i,
                             shard_count=2) for i in range(2)]
  _, whole = _batches(full, 4)
  _, first = _batches(shards[0], 2)
  _, second = _batches(shards[1], 2)
  np.testing.assert_array_equal(first[0]['frames'], whole[0]['frames'])
  np.testing.assert_array_equal(second[0]['frames'], whole[1]['frames'])
  np.testing.assert_array_equal(first[1]['frames'], whole[2]['frames'])


def test_frame_cache_decodes_each_frame_once_at_its_short_side(videos, monkeypatch):
  from vosjax.data import frame_cache
  frame_cache.clear()
  video = videos[0]  # 40 x 64 frames
  frame, ids = frame_cache.read_pair(video, 0, short_side=20)
  assert frame.shape == (20, 32, 3) and ids.shape == (20, 32)
  assert set(np.unique(ids)) <= set(np.unique(video.read_mask(0)))  # nearest neighbours: no new ids
  monkeypatch.setattr(type(video), 'read_frame', lambda *a, **k: pytest.fail('decoded twice'))
  again, _ = frame_cache.read_pair(video, 0, short_side=20)
  assert again is frame and frame_cache.cached_frames() == 1
  assert frame_cache.scaled_size(480, 854, 360) == (360, 640)
  assert frame_cache.scaled_size(240, 320, 360) == (240, 320)  # never enlarged
  frame_cache.clear()


def test_pasted_objects_become_targets_or_distractors(videos):
  from vosjax.data import frame_cache
  single = tuple(v for v in videos if len(np.unique(v.read_mask(0))) == 2)  # one object each
  assert single
  pasting = ClipConfig(num_frames=4, crop_size=32, max_objects=3, min_object_pixels=10, cache_short_side=40,
                       paste_probability=1.0, paste_max=2, paste_scale_range=(0.6, 0.9))
  dataset = training_dataset([TrainingSource('davis', single)], pasting, batch_size=8, num_workers=0)
  batch = next(iter(dataset))
  objects = batch['object_valid'].sum(1)
  assert objects.max() >= 2  # single-object videos, several targets
  for b in range(8):
    assert batch['labels'][b].max() == objects[b]
  as_distractors = dataclasses.replace(pasting, max_objects=1)
  batch = next(iter(training_dataset([TrainingSource('davis', single)], as_distractors, 8, num_workers=0)))
  assert batch['labels'].max() == 1 and batch['object_valid'].shape == (8, 1)
  plain = dataclasses.replace(pasting, paste_probability=0.0)
  batch = next(iter(training_dataset([TrainingSource('davis', single)], plain, 8, num_workers=0)))
  np.testing.assert_array_equal(batch['object_valid'].sum(1), 1)  # nothing pasted: the videos' one object
  frame_cache.clear()
