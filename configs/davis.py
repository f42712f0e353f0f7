"""Main training on DAVIS 2017 train (the paper's settings), validated on DAVIS 2017 val.

The recipe lives in the package (vosjax/configs/davis.py); this file is what `--config configs/davis.py` reads.
"""

from vosjax.configs.davis import get_config  # noqa: F401
