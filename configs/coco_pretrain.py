"""The paper's pre-training on COCO still images: 3-frame pseudo-videos made by random affine transforms.

The recipe lives in the package (vosjax/configs/coco_pretrain.py); this file is what
`--config configs/coco_pretrain.py` reads.
"""

from vosjax.configs.coco_pretrain import get_config  # noqa: F401
