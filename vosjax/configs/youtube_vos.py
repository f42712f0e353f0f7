"""Main training on YouTube-VOS 2018 train (skips divided by 5 for its every-5th-frame annotation)."""

from vosjax.configs import base


def get_config():
  config = base.get_config()
  config.data.sources = 'youtube_vos:1'
  config.data.val_source = ''  # YouTube-VOS valid has no public ground truth: evaluate with the official server
  config.train.init_from = 'runs/coco_pretrain'
  return config
