"""Main training on YouTube-VOS 2018 train (skips divided by 5 for its every-5th-frame annotation).

The recipe lives in the package (vosjax/configs/youtube_vos.py); this file is what
`--config configs/youtube_vos.py` reads.
"""

from vosjax.configs.youtube_vos import get_config  # noqa: F401
