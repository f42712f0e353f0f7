"""The paper's pre-training on COCO still images: 3-frame pseudo-videos made by random affine transforms."""

from vosjax.configs import base


def get_config():
  config = base.get_config()
  config.data.sources = 'coco:1'
  config.clip.num_frames = 3
  config.clip.rotation_degrees = 20.0
  config.clip.shear_degrees = 10.0
  config.clip.frame_scale_range = (0.8, 1.2)
  config.clip.frame_translate = 0.1
  config.train.num_steps = 300_000
  config.train.eval_every = 0
  return config
