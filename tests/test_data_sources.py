"""COCO pseudo-videos and the TFDS davis reader, on data the tests make."""

import json
import os

import numpy as np
import pytest

from vosjax.data import ClipConfig, DatasetError, coco_images, make_clip, tfds_davis_videos
from vosjax.data.image_io import write_jpeg


@pytest.fixture
def coco_root(tmp_path):
  from pycocotools import mask as mask_utils
  root = tmp_path / 'coco'
  image = np.full((60, 80, 3), 90, np.uint8)
  write_jpeg(str(root / 'train2017' / 'a.jpg'), image)
  write_jpeg(str(root / 'train2017' / 'b.jpg'), image)
  rle_mask = np.zeros((60, 80), np.uint8, order='F')
  rle_mask[30:50, 50:75] = 1
  rle = mask_utils.encode(rle_mask)
  rle['counts'] = rle['counts'].decode()
  crowd = np.zeros((60, 80), np.uint8, order='F')
  crowd[0:10, 0:80] = 1
  crowd_rle = mask_utils.encode(crowd)
  crowd_rle['counts'] = crowd_rle['counts'].decode()
  annotations = {
      'images': [{'id': 1, 'file_name': 'a.jpg', 'height': 60, 'width': 80},
                 {'id': 2, 'file_name': 'b.jpg', 'height': 60, 'width': 80}],
      'categories': [{'id': 1, 'name': 'thing'}],
      'annotations': [
          # a polygon (a 30x30 square) and an RLE object in image 1; image 2 has only a crowd region
          {'id': 10, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'area': 900.0, 'bbox': [5, 15, 30, 30],
           'segmentation': [[5, 15, 35, 15, 35, 45, 5, 45]]},
          {'id': 11, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'area': 500.0, 'bbox': [50, 30, 25, 20],
           'segmentation': rle},
          {'id': 12, 'image_id': 1, 'category_id': 1, 'iscrowd': 1, 'area': 800.0, 'bbox': [0, 0, 80, 10],
           'segmentation': crowd_rle},
          {'id': 13, 'image_id': 2, 'category_id': 1, 'iscrowd': 1, 'area': 800.0, 'bbox': [0, 0, 80, 10],
           'segmentation': crowd_rle},
      ],
  }
  os.makedirs(root / 'annotations')
  with open(root / 'annotations' / 'instances_train2017.json', 'w') as f:
    json.dump(annotations, f)
  return str(root)


def test_coco_polygons_and_rle_become_ids_and_crowds_are_ignored(coco_root):
  images = coco_images(coco_root)
  assert [i.name for i in images] == ['a.jpg']  # b.jpg has only a crowd region
  ids = images[0].read_mask(0, expected_size=(60, 80))
  assert ids[30, 20] == 1 and ids[40, 60] == 2  # the larger polygon first, then the RLE object
  assert ids[5, 60] == 0  # the crowd region is not an object
  assert int(np.sum(ids == 1)) == 900 and int(np.sum(ids == 2)) == 500  # the 30x30 polygon, the 25x20 RLE


def test_coco_pseudo_video_of_three_frames(coco_root):
  (image,) = coco_images(coco_root)
  config = ClipConfig(num_frames=3, crop_size=48, max_objects=3, min_object_pixels=20, rotation_degrees=20,
                      frame_translate=0.1)
  clip = make_clip(np.random.default_rng(0), image, config, epoch=0)
  assert clip['frames'].shape == (3, 48, 48, 3) and clip['labels'].shape == (3, 48, 48)
  assert clip['object_valid'].sum() >= 1
  assert not np.array_equal(clip['labels'][0], clip['labels'][1])  # the frames are different views


def test_coco_missing_layout_is_named(tmp_path):
  with pytest.raises(DatasetError, match='not a COCO folder.*cocodataset.org'):
    coco_images(str(tmp_path))


def _tfds_examples():
  examples = []
  for index, name in enumerate(['bear', 'camel']):
    frames = np.random.default_rng(index).integers(0, 255, (4, 40, 64, 3), dtype=np.uint8)
    segmentations = np.zeros((4, 40, 64, 1), np.uint8)
    segmentations[:, 10:30, 10 + 3 * index:40, 0] = 1
    segmentations[:, 5:12, 45:60, 0] = 2
    examples.append({'video': {'frames': frames, 'segmentations': segmentations},
                     'metadata': {'num_frames': 4, 'video_name': name}})
  return examples


def test_tfds_davis_is_read_with_data_source():
  import tensorflow_datasets as tfds
  examples = _tfds_examples()
  with tfds.testing.mock_data(as_data_source_fn=lambda *args, **kwargs: examples):
    videos = tfds_davis_videos('val')
    assert [v.name for v in videos] == ['bear', 'camel']
    assert videos[1].num_frames == 4 and videos[1].annotated_indices == (0, 1, 2, 3)
    np.testing.assert_array_equal(videos[1].read_frame(2), examples[1]['video']['frames'][2])
    np.testing.assert_array_equal(videos[1].read_mask(2), examples[1]['video']['segmentations'][2, ..., 0])
    config = ClipConfig(num_frames=3, crop_size=32, min_object_pixels=10)
    clip = make_clip(np.random.default_rng(1), videos[0], config, epoch=0)
    assert clip['frames'].shape == (3, 32, 32, 3) and clip['object_valid'].any()
