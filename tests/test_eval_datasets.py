"""The benchmarks users report on, in their real layouts (generated here): MOSE, LVOS, the Long-time Video dataset,
YouTube-VOS 2019 and DAVIS 2017 test-dev: readers, what evaluate.py writes (submission zips with the right root),
and scoring on sparse or per-object-span ground truth."""

import os
import shutil
import zipfile

import numpy as np
import pytest

from data_layouts import (LVOS_FRAMES, lvos_ids, rescored_jf, square_ids, write_davis2017, write_long_video,
                          write_lvos, write_mose, write_youtube_vos)
from test_evaluate import _config, workdir  # noqa: F401 (the module-scoped checkpoint fixture)
from vosjax.data.image_io import DatasetError, read_mask, write_indexed_png
from vosjax.data.long_video import long_video_videos
from vosjax.data.lvos import lvos_videos
from vosjax.data.mose import mose_videos
from vosjax.evaluation.evaluate_lib import evaluate_checkpoint
from vosjax.evaluation.scoring import score_results
from vosjax.evaluation.split_segmentation import _video_objects
from vosjax.metrics.davis import boundary_measure, region_similarity


def _zip_names(path):
  with zipfile.ZipFile(path) as archive:
    return sorted(archive.namelist())


@pytest.mark.parametrize('outer_split', [True, False])
def test_mose_readers_accept_both_published_layouts(tmp_path, outer_split):
  root = write_mose(str(tmp_path / 'mose'), outer_split=outer_split)
  valid = mose_videos(root, 'valid')
  assert [v.name for v in valid] == ['m1', 'm2'] and valid[0].num_frames == 6 and valid[0].annotated_indices == (0,)
  assert mose_videos(root, 'train')[0].annotated_indices == (0, 1, 2)
  with pytest.raises(DatasetError, match='not a MOSE folder'):
    mose_videos(str(tmp_path), 'valid')


def test_mose_valid_writes_every_frame_and_a_zip_with_sequences_at_its_root(workdir, tmp_path):  # noqa: F811
  root = write_mose(str(tmp_path / 'mose'))
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_config(eval__dataset='mose', data__root=root), workdir, 'valid', str(out))
  assert results['frames'] == 10 and 'J&F-Mean' not in results
  expected = [f'm1/{t:05d}.png' for t in range(6)] + [f'm2/{t:05d}.png' for t in range(4)]
  assert _zip_names(results['submission']) == expected
  np.testing.assert_array_equal(read_mask(str(out / 'm1' / '00000.png')), square_ids(40, 64, 0, 2))
  train = evaluate_checkpoint(_config(eval__dataset='mose', data__root=root), workdir, 'train', str(tmp_path / 't'))
  assert 'submission' not in train
  assert train['J&F-Mean'] == pytest.approx(rescored_jf(str(tmp_path / 't'), mose_videos(root, 'train')), abs=1e-6)


def test_davis_test_dev_is_written_and_zipped_not_scored(workdir, tmp_path):  # noqa: F811
  root = write_davis2017(str(tmp_path / 'davis'), {'tdA': ('test-dev', 5, 2), 'tdB': ('test-dev', 3, 1)})
  for name, frames in (('tdA', 5), ('tdB', 3)):
    for t in range(1, frames):  # test-dev gives the first frame's mask only
      os.remove(os.path.join(root, 'Annotations', '480p', name, f'{t:05d}.png'))
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_config(eval__dataset='davis', data__root=root), workdir, 'test-dev', str(out))
  assert _zip_names(results['submission']) == [f'tdA/{t:05d}.png' for t in range(5)] + [
      f'tdB/{t:05d}.png' for t in range(3)]
  assert not (out / 'global_results-test-dev.csv').exists()


def test_youtube_vos_2019_valid_gives_the_2018_submission_layout(workdir, tmp_path):  # noqa: F811
  root = write_youtube_vos(str(tmp_path / 'ytvos19'))
  config = _config(eval__dataset='youtube_vos_2019', data__youtube_vos_2019_root=root)
  results = evaluate_checkpoint(config, workdir, 'valid', str(tmp_path / 'out'))
  assert _zip_names(results['submission']) == [f'Annotations/vidB/{5 * i:05d}.png' for i in range(4)]
  with pytest.raises(DatasetError, match='not a YouTube-VOS 2019 folder'):
    evaluate_checkpoint(_config(eval__dataset='youtube_vos_2019', data__root=str(tmp_path)), workdir, 'valid')


def test_lvos_reader_keeps_each_objects_range_and_skips_frames_before_the_first_object(tmp_path):
  root = write_lvos(str(tmp_path / 'lvos'))
  lv1, lv2 = lvos_videos(root, 'val')  # 'val' and 'valid' name the same split
  assert lv1.frame_names[0] == '00000001' and lv1.num_frames == LVOS_FRAMES
  assert lv1.object_spans == ((2, 0, 4), (5, 2, 7)) and lv1.given_frames == ('00000001', '00000011')
  assert lv2.frame_names[0] == '00000011' and lv2.num_frames == LVOS_FRAMES - 2 and lv2.object_spans == ((1, 0, 5),)
  # A stray id in the dense ground truth of a frame where no object starts does not take an object slot.
  stray = lvos_ids(40, 64, 6)
  stray[36:, :4] = 7
  write_indexed_png(os.path.join(root, 'valid', 'Annotations', 'lv1', f'{1 + 5 * 6:08d}.png'), stray)
  assert _video_objects(lv1, first_frame_only=False) == 2


def test_lvos_errors_name_the_file(tmp_path):
  root = write_lvos(str(tmp_path / 'lvos'))
  os.remove(os.path.join(root, 'valid', 'Annotations', 'lv1', '00000011.png'))
  with pytest.raises(DatasetError, match=r'lv1/00000011.png: missing: object 5 of lv1 starts there'):
    lvos_videos(root, 'valid')
  with open(os.path.join(root, 'valid', 'valid_meta.json'), 'w') as f:
    f.write('{"videos": {"lv1": {"objects": {"2": {"frame_range": {}}}}}}')
  with pytest.raises(DatasetError, match='valid_meta.json: not an LVOS meta file'):
    lvos_videos(root, 'valid')


def test_lvos_scoring_counts_each_object_inside_its_own_range_only(tmp_path):
  root = write_lvos(str(tmp_path / 'lvos'))
  videos = lvos_videos(root, 'valid')
  results = tmp_path / 'results'
  for video in videos:
    for index, name in enumerate(video.frame_names):
      ids = video.read_mask(index)
      if video.name == 'lv1' and index in (0, 4, 5, 6):
        ids = np.where(ids == 2, 0, ids)  # object 2 wrong where it is not scored: its first and last frame, after it
        ids[36:, :] = 2  # (rows where object 5 never is)
      write_indexed_png(str(results / video.name / f'{name}.png'), ids)
  summary = score_results(str(results), videos, workers=1, frames='object_spans')
  assert [row[0] for row in summary.per_object] == ['lv1_2', 'lv1_5', 'lv2_1']
  assert summary.global_results['J&F-Mean'] == 1.0
  # Object 2 wrong in one frame inside its range (t=2): only its J and F drop, by that frame's share of three.
  ids = lvos_ids(40, 64, 2)
  wrong = np.where(ids == 2, 0, ids)
  write_indexed_png(str(results / 'lv1' / '00000011.png'), wrong)
  summary = score_results(str(results), videos, workers=1, frames='object_spans')
  j = {name: value for name, value, _ in summary.per_object}
  assert j['lv1_5'] == 1.0 and j['lv2_1'] == 1.0
  assert j['lv1_2'] == pytest.approx((2 + region_similarity(wrong == 2, ids == 2)) / 3)


def test_lvos_valid_is_segmented_from_first_appearances_and_scored_with_a_note(workdir, tmp_path):  # noqa: F811
  root = write_lvos(str(tmp_path / 'lvos'))
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_config(eval__dataset='lvos', data__root=root), workdir, 'valid', str(out))
  assert results['frames'] == LVOS_FRAMES + LVOS_FRAMES - 2
  rescored = score_results(str(out), lvos_videos(root, 'valid'), workers=1, frames='object_spans')
  assert results['J&F-Mean'] == pytest.approx(rescored.global_results['J&F-Mean'], abs=1e-6)
  assert sorted(os.listdir(out / 'lv2'))[0] == '00000011.png'  # frames before the first object: not segmented
  masks = [read_mask(str(out / 'lv1' / f'{1 + 5 * t:08d}.png')) for t in range(LVOS_FRAMES)]
  assert all(5 not in m for m in masks[:2])  # object 5 is given at t=2 only, never earlier
  np.testing.assert_array_equal(masks[2] == 5, lvos_ids(40, 64, 2) == 5)
  rows = (out / 'per-sequence_results-valid.csv').read_text().splitlines()
  assert [r.split(',')[0] for r in rows[1:]] == ['lv1_2', 'lv1_5', 'lv2_1']
  assert 'each object over its own frame range' in (out / 'scoring_note-valid.txt').read_text()


def test_long_video_scores_the_annotated_frames_only(workdir, tmp_path):  # noqa: F811
  root = write_long_video(str(tmp_path / 'long'))
  (video,) = long_video_videos(root)
  assert video.num_frames == 25 and video.annotated_indices == (0, 6, 12, 18, 24)
  results = tmp_path / 'perfect'
  for index, name in enumerate(video.frame_names):
    ids = video.read_mask(index) if index in video.annotated_indices else np.full((40, 64), 1, np.uint8)
    write_indexed_png(str(results / 'blueboy' / f'{name}.png'), ids)  # wrong wherever there is no ground truth
  summary = score_results(str(results), [video], workers=1, frames='annotated')
  assert summary.global_results['J&F-Mean'] == 1.0
  out = tmp_path / 'out'
  evaluated = evaluate_checkpoint(_config(eval__dataset='long_video', data__root=root), workdir, 'val', str(out))
  assert evaluated['frames'] == 25 and len(os.listdir(out / 'blueboy')) == 25
  assert 'annotated frames only' in evaluated['scoring_note']
  assert (out / 'scoring_note-val.txt').read_text().startswith('Scored on the annotated frames only')
  # Frames 6, 12 and 18 are scored: the mean of their J equals the CSV's.
  truth = {i: video.read_mask(i) for i in (6, 12, 18)}
  predicted = {i: read_mask(str(out / 'blueboy' / f'{i:05d}.png')) for i in truth}
  expected_j = np.mean([region_similarity(predicted[i] == 1, truth[i] == 1) for i in truth])
  expected_f = np.mean([boundary_measure(predicted[i] == 1, truth[i] == 1) for i in truth])
  assert evaluated['J-Mean'] == pytest.approx(expected_j) and evaluated['F-Mean'] == pytest.approx(expected_f)
  shutil.rmtree(out)


def test_lvos_test_without_its_meta_file_is_zipped_under_annotations(workdir, tmp_path):  # noqa: F811
  root = write_lvos(str(tmp_path / 'lvos'), split='test')
  os.remove(os.path.join(root, 'test', 'test_meta.json'))
  for t in range(LVOS_FRAMES):  # test gives first appearances only: lv1 at t=0 (object 2) and t=2 (object 5)
    stem = f'{1 + 5 * t:08d}'
    path = os.path.join(root, 'test', 'Annotations', 'lv1', f'{stem}.png')
    if t == 2:
      write_indexed_png(path, np.where(lvos_ids(40, 64, 2) == 5, 5, 0))
    elif t != 0:
      os.remove(path)
    if t > 2:
      os.remove(os.path.join(root, 'test', 'Annotations', 'lv2', f'{stem}.png'))
  out = tmp_path / 'out'
  results = evaluate_checkpoint(_config(eval__dataset='lvos', data__root=root), workdir, 'test', str(out))
  names = _zip_names(results['submission'])
  assert names[0] == 'Annotations/lv1/00000001.png' and len(names) == LVOS_FRAMES + LVOS_FRAMES - 2
  masks = [read_mask(str(out / 'Annotations' / 'lv1' / f'{1 + 5 * t:08d}.png')) for t in range(3)]
  assert 5 not in masks[1] and np.array_equal(masks[2] == 5, lvos_ids(40, 64, 2) == 5)
