"""The paper's main training: DAVIS 2017 and YouTube-VOS 2018 mixed (DAVIS repeated 5x, as STCN), from the COCO
pre-training checkpoint, validated on DAVIS 2017 val.

The recipe lives in the package (vosjax/configs/main.py); this file is what `--config configs/main.py` reads.
"""

from vosjax.configs.main import get_config  # noqa: F401
