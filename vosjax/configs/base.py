"""Shared defaults that every config imports: the paper's network and training settings (its sections 3 and 4.2),
and vosjax's own choices where the paper gives none (marked; docs/design.md lists them).

Any field can be overridden from the command line, e.g. `--config.optim.lr=1e-4 --config.model.use_cam=False`.
"""

import dataclasses

import ml_collections

from vosjax.data.clip_sampling import ClipConfig
from vosjax.models import paper_config


def model_block(model_config=None) -> ml_collections.ConfigDict:
  """A ConfigDict mirroring `vosjax.models.ModelConfig` (nested ResNet configs become sub-dicts)."""
  return ml_collections.ConfigDict(dataclasses.asdict(model_config or paper_config()))


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.model = model_block()
  config.data = ml_collections.ConfigDict(dict(
      sources='davis:1',  # 'name:weight,...' over synthetic, davis, davis2016, youtube_vos, coco, tfds_davis
      synthetic_root='',  # '' = generate into the cache folder (~/.cache/vosjax, $VOSJAX_CACHE)
      synthetic_seed=0,
      davis_root='data/DAVIS',
      davis_resolution='480p',
      youtube_vos_root='data/YouTubeVOS',
      youtube_vos_2019_root='data/YouTubeVOS2019',  # evaluation only (eval.dataset=youtube_vos_2019)
      mose_root='data/MOSE',  # evaluation only, as the three below
      lvos_root='data/LVOS',
      long_video_root='data/long_video',  # AFB-URR's Long-time Video dataset
      coco_root='data/COCO',
      tfds_data_dir='',
      num_workers=2,  # grain worker processes
      val_source='',  # the dataset whose val split validation uses ('' = no validation)
      val_split='val',  # or 'holdout': the held-out videos below, from val_source's train split
      val_videos=0,  # 0 = every video of the val split
      holdout='',  # comma-separated video names never trained on (evaluate.py --split holdout scores them)
      root='',  # evaluate.py: replaces the evaluated dataset's root (any DAVIS-layout folder)
      youtube_vos_all_frames_root='',  # valid_all_frames (every frame); '' = the every-5th-frame valid/JPEGImages
  ))
  config.eval = ml_collections.ConfigDict(dict(
      dataset='',  # vosjax/evaluation/eval_datasets.py: DATASETS ('' = data.val_source, else davis)
      short_side=0,  # internal resolution: frames with a longer shorter side are scaled down to it (0 = native)
      checkpoint_step=-1,  # -1 = the workdir's latest checkpoint
      workers=2,  # processes scoring sequences
      videos_per_batch=1,  # videos of one frame size segmented together (a fixed-size state: GAM, memory_recent)
      adapt_steps=0,  # > 0: Adam steps on each video's first frame before segmenting it (vosjax/training/adaptation.py)
      adapt_lr=2e-4,  # their constant learning rate (vosjax.training.adaptation.LEARNING_RATE)
      adapt_crop=192,  # their pseudo-clips' crop side
  ))
  config.clip = ml_collections.ConfigDict(dataclasses.asdict(ClipConfig()))  # 10 frames, 384 crops, skip 0..10 +5/20
  # vosjax's choices, not the paper's (which gives no step count and no cap): a curriculum epoch of 7,500 clips, so
  # that 150,000 steps of 4 clips are 80 epochs, the skip grows at epochs 20, 40 and 60 and reaches a cap of 25 three
  # quarters into training, whatever the size of the video list (one pass over DAVIS alone is 15 steps, which would
  # end the curriculum within the first 900 steps).
  config.clip.epoch_clips = 7_500
  config.optim = ml_collections.ConfigDict(dict(
      lr=1e-5,
      schedule='constant',  # or 'cosine': linear warm-up over warmup_steps, cosine decay to 0 at train.num_steps
      warmup_steps=0,
      train_bn_affine=False,  # the paper froze batch normalisation: statistics and affine parameters
      clip_grad_norm=0.0,
      frame_encoder_lr_scale=1.0,  # the frame encoder's learning rate relative to lr (0 = frozen, no backward)
      frame_encoder_train_blocks=-1,  # >= 0: only the frame encoder's last N blocks train (EfficientNet-Lite)
  ))
  config.loss = ml_collections.ConfigDict(dict(
      bootstrap_fraction=1.0,  # < 1: each frame's loss is the mean over its hardest pixels (bootstrapped CE)
      bootstrap_ramp_steps=0,  # the plain mean at step 0 moves linearly to the bootstrapped loss over these steps
  ))
  config.train = ml_collections.ConfigDict(dict(
      batch_size=4,  # global, over all devices and hosts
      num_steps=150_000,  # vosjax's choice (see the curriculum note above)
      log_every=50,
      checkpoint_every=2_000,
      keep_checkpoints=3,
      eval_every=10_000,
      remat=False,
      init_from='',  # a workdir whose latest checkpoint initialises the network (main training after pre-training)
      imagenet_frame_encoder='',  # torchvision resnet50 .pth/.npz/.safetensors, or lite0/lite1/lite2 (installed)
      imagenet_mask_encoder='',  # torchvision resnet18, or lite0/lite1/lite2
      allow_random_init=False,  # True: train a ResNet-50 frame encoder from random weights (refused otherwise)
  ))
  return config
