"""Input: dataset readers (DAVIS, YouTube-VOS, MOSE, LVOS, Long-time Video, COCO, TFDS, synthetic), training clips
via grain, evaluation streams."""

from vosjax.data.augment import IMAGENET_MEAN, IMAGENET_STD, normalize_frames
from vosjax.data.clip_sampling import ClipConfig, max_skip_at_epoch, sample_frame_indices
from vosjax.data.coco import CocoImage, coco_images
from vosjax.data.davis import davis_videos
from vosjax.data.eval_stream import EvalFrame, stream_video
from vosjax.data.image_io import DatasetError, davis_palette, read_frame, read_mask, write_indexed_png
from vosjax.data.long_video import long_video_videos
from vosjax.data.lvos import lvos_videos
from vosjax.data.mose import mose_videos
from vosjax.data.pipeline import TrainingSource, first_frame_masks, make_clip, training_dataset
from vosjax.data.tfds_davis import TfdsVideo, tfds_davis_videos
from vosjax.data.video import FileVideo
from vosjax.data.youtube_vos import youtube_vos_videos

__all__ = [
    'ClipConfig', 'CocoImage', 'DatasetError', 'EvalFrame', 'FileVideo', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'TfdsVideo', 'TrainingSource', 'coco_images', 'davis_palette', 'davis_videos', 'first_frame_masks',
    'long_video_videos', 'lvos_videos', 'make_clip', 'max_skip_at_epoch', 'mose_videos', 'normalize_frames',
    'read_frame', 'read_mask', 'sample_frame_indices', 'stream_video', 'tfds_davis_videos', 'training_dataset',
    'write_indexed_png', 'youtube_vos_videos',
]
