"""Main training on DAVIS 2017 train (the paper's settings), validated on DAVIS 2017 val."""

from vosjax.configs import base


def get_config():
  config = base.get_config()
  config.data.sources = 'davis:1'
  config.data.val_source = 'davis'
  config.train.init_from = 'runs/coco_pretrain'
  return config
