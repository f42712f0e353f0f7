"""The paper's main training: DAVIS 2017 and YouTube-VOS 2018 mixed (DAVIS repeated 5x, as STCN), from the COCO
pre-training checkpoint, validated on DAVIS 2017 val."""

from vosjax.configs import base


def get_config():
  config = base.get_config()
  config.data.sources = 'davis:5,youtube_vos:1'
  config.data.val_source = 'davis'
  config.train.init_from = 'runs/coco_pretrain'
  return config
