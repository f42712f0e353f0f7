"""Real video on a 2-core CPU: DAVIS 2016 train minus the held-out videos (work in progress)."""

import dataclasses

from configs import base
from vosjax.models import tiny_config

HOLDOUT = 'bear,bmx-bumps,car-turn,dance-jump,hockey,mallard-fly'


def get_config():
  config = base.get_config()
  config.model = base.model_block(dataclasses.replace(tiny_config(), memory_bucket=8))
  config.data.sources = 'davis:1'
  config.data.davis_root = '../shared/data/davis2016-train'
  config.data.val_source = 'davis'
  config.data.val_split = 'holdout'
  config.data.holdout = HOLDOUT
  config.eval.dataset = 'davis'
  config.data.num_workers = 1
  config.clip.num_frames = 5
  config.clip.crop_size = 160
  config.clip.max_objects = 1
  config.clip.max_skip = 5
  config.clip.skip_growth = 0
  config.optim.lr = 1e-3
  config.optim.schedule = 'cosine'
  config.optim.warmup_steps = 100
  config.train.batch_size = 4
  config.train.num_steps = 3000
  config.train.log_every = 50
  config.train.checkpoint_every = 500
  config.train.eval_every = 0
  return config
