"""The embedded default: the built-in synthetic dataset and a tiny network, trained and validated on a CPU in minutes.

Deviations from the paper's settings, for a 2-core CPU and a network without ImageNet weights: the tiny network,
96x96 crops of 5 frames with up to 2 objects, skips 0..3 without curriculum (the synthetic objects move fast), Adam
peaking at 1.5e-3 with a cosine decay over 3600 steps (about 13 minutes on 2 cores; measured J&F in docs/benchmarks.md).
"""

import dataclasses

from vosjax.configs import base
from vosjax.models import tiny_config


def get_config():
  config = base.get_config()
  config.model = base.model_block(dataclasses.replace(tiny_config(), memory_bucket=8))
  config.data.sources = 'synthetic:1'
  config.data.val_source = 'synthetic'
  config.data.num_workers = 1
  config.clip.num_frames = 5
  config.clip.crop_size = 96
  config.clip.max_objects = 2
  config.clip.max_skip = 3
  config.clip.skip_growth = 0
  config.clip.min_object_pixels = 20
  config.clip.scale_range = (0.7, 1.0)  # zoom 0.5-0.75; (1.1, 1.6), native object size, measured worse
  config.optim.train_bn_affine = True  # BN layers trained from scratch start as identities: train their scale and bias
  config.optim.lr = 1.5e-3
  config.optim.schedule = 'cosine'
  config.optim.warmup_steps = 100
  config.train.batch_size = 4
  config.train.num_steps = 3600
  config.train.log_every = 50
  config.train.checkpoint_every = 400
  config.train.eval_every = 1200
  return config
