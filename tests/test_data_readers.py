"""Dataset readers in the real layouts, and every kind of bad input a user can give them."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from data_layouts import write_davis2016_release, write_davis2017, write_youtube_vos
from vosjax.data import DatasetError, davis_palette, davis_videos, read_mask, stream_video, youtube_vos_videos


@pytest.fixture
def davis(tmp_path):
  return write_davis2017(str(tmp_path / 'DAVIS'), {'alpha': ('train', 5, 2), 'beta': ('val', 4, 3)})


def test_davis2017_lists_sequences_and_reads_masks(davis):
  (alpha,) = davis_videos(davis, 'train')
  assert alpha.name == 'alpha' and alpha.num_frames == 5 and alpha.annotated_indices == (0, 1, 2, 3, 4)
  assert alpha.frame_names[0] == '00000'
  frame = alpha.read_frame(2)
  ids = alpha.read_mask(2, expected_size=frame.shape[:2])
  assert frame.shape == (40, 64, 3) and ids.dtype == np.uint8
  assert set(np.unique(ids)) == {0, 1, 2}
  (beta,) = davis_videos(davis, 'val')
  assert set(np.unique(beta.read_mask(0))) == {0, 1, 2, 3}


def test_davis2016_subset_of_a_2017_folder_merges_objects(davis):
  os.makedirs(os.path.join(davis, 'ImageSets', '2016'))
  with open(os.path.join(davis, 'ImageSets', '2016', 'val.txt'), 'w') as f:
    f.write('beta\n')
  (beta,) = davis_videos(davis, 'val', year=2016)
  assert set(np.unique(beta.read_mask(1))) == {0, 1}


def test_davis2016_release_layout_reads_0_255_masks(tmp_path):
  root = write_davis2016_release(str(tmp_path / 'DAVIS2016'))
  (bear,) = davis_videos(root, 'val', year=2016)
  assert bear.binary_masks and bear.num_frames == 4
  ids = bear.read_mask(0)
  assert set(np.unique(ids)) == {0, 1}  # 255 is the object, not void


def test_youtube_vos_train_and_valid(tmp_path):
  root = write_youtube_vos(str(tmp_path / 'ytvos'))
  (train,) = youtube_vos_videos(root, 'train')
  assert train.frame_step == 5 and train.annotated_indices == (0, 1, 2, 3)
  (valid,) = youtube_vos_videos(root, 'valid')
  assert valid.annotated_indices == (0, 2) and valid.output_frames == ('00000', '00005', '00010', '00015')
  frames = list(stream_video(valid, first_frame_only=False))
  assert [f.new_object_ids for f in frames] == [(1,), (), (4,), ()]  # non-contiguous id 4 joins at 00010
  assert frames[1].given_ids is None and frames[2].given_ids.max() == 4


def test_davis_stream_gives_only_the_first_mask(davis):
  (beta,) = davis_videos(davis, 'val')
  frames = list(stream_video(beta))
  assert frames[0].new_object_ids == (1, 2, 3)
  assert all(f.given_ids is None for f in frames[1:])
  assert [f.name for f in frames] == ['00000', '00001', '00002', '00003']


# ----------------------------------------------------------------------------------------------------- bad input
def test_missing_root_and_missing_split_file_are_named(davis, tmp_path):
  with pytest.raises(DatasetError, match='nowhere.*davischallenge'):
    davis_videos(str(tmp_path / 'nowhere'))
  with pytest.raises(DatasetError, match=r'ImageSets/2017/test-dev.txt: split file not found'):
    davis_videos(davis, 'test-dev')
  with pytest.raises(DatasetError, match='not a DAVIS folder'):
    davis_videos(str(tmp_path))


def test_empty_sequence_folder(davis):
  shutil.rmtree(os.path.join(davis, 'JPEGImages', '480p', 'alpha'))
  os.makedirs(os.path.join(davis, 'JPEGImages', '480p', 'alpha'))
  with pytest.raises(DatasetError, match="alpha: sequence folder 'alpha' holds no frames"):
    davis_videos(davis, 'train')


def test_frames_without_annotations_and_annotations_without_frames(davis):
  os.remove(os.path.join(davis, 'Annotations', '480p', 'alpha', '00003.png'))
  with pytest.raises(DatasetError, match=r'frames without annotations.*00003.jpg'):
    davis_videos(davis, 'train')
  assert davis_videos(davis, 'train', require_all_masks=False)[0].annotated_indices == (0, 1, 2, 4)
  os.remove(os.path.join(davis, 'JPEGImages', '480p', 'beta', '00002.jpg'))
  with pytest.raises(DatasetError, match=r'annotations without frames.*00002.png'):
    davis_videos(davis, 'val')


def test_first_frame_without_annotation_or_without_object(davis):
  os.remove(os.path.join(davis, 'Annotations', '480p', 'alpha', '00000.png'))
  with pytest.raises(DatasetError, match='no annotation for the first frame 00000.jpg'):
    davis_videos(davis, 'train', require_all_masks=False)
  (beta,) = davis_videos(davis, 'val')
  empty = os.path.join(davis, 'Annotations', '480p', 'beta', '00000.png')
  Image.fromarray(np.zeros((40, 64), np.uint8), mode='P').save(empty)
  with pytest.raises(DatasetError, match='00000.png: the first frame of beta has no object'):
    list(stream_video(beta))


def test_mask_size_differs_from_frame(davis):
  (alpha,) = davis_videos(davis, 'train')
  Image.fromarray(np.zeros((20, 30), np.uint8), mode='P').save(alpha.mask_paths[1])
  with pytest.raises(DatasetError, match=r'00001.png: mask is 30x20 \(WxH\) but its frame is 64x40'):
    alpha.read_mask(1, expected_size=alpha.read_frame(1).shape[:2])


def test_rgb_masks_are_mapped_to_ids_or_refused(tmp_path):
  palette = davis_palette()
  ids = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
  Image.fromarray(palette[ids]).save(tmp_path / 'rgb.png')
  np.testing.assert_array_equal(read_mask(str(tmp_path / 'rgb.png')), ids)
  odd = palette[ids].copy()
  odd[0, 0] = (17, 99, 3)
  Image.fromarray(odd).save(tmp_path / 'odd.png')
  with pytest.raises(DatasetError, match=r'odd.png: an RGB mask whose colours \[\(17, 99, 3\)\]'):
    read_mask(str(tmp_path / 'odd.png'))


def test_corrupt_jpeg(davis):
  (alpha,) = davis_videos(davis, 'train')
  with open(alpha.frame_paths[2], 'r+b') as f:
    f.truncate(60)
  with pytest.raises(DatasetError, match='00002.jpg: corrupt or unreadable image'):
    alpha.read_frame(2)


def test_void_pixels_are_kept_in_masks_and_cleared_in_given_masks(davis):
  (beta,) = davis_videos(davis, 'val')
  ids = beta.read_mask(0)
  ids[0, :5] = 255
  from vosjax.data import write_indexed_png
  write_indexed_png(beta.mask_paths[0], ids)
  assert (beta.read_mask(0) == 255).sum() == 5  # the reader reports void as void
  first = next(stream_video(beta))
  assert first.given_ids.max() == 3 and 255 not in first.new_object_ids  # given masks treat void as background


def test_youtube_vos_missing_meta(tmp_path):
  root = write_youtube_vos(str(tmp_path / 'ytvos'))
  os.remove(os.path.join(root, 'valid', 'meta.json'))
  with pytest.raises(DatasetError, match='meta.json: meta.json not found'):
    youtube_vos_videos(root, 'valid')
  with pytest.raises(DatasetError, match='not a YouTube-VOS 2018 folder.*youtube-vos.org'):
    youtube_vos_videos(str(tmp_path), 'train')
