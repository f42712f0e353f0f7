"""The embedded default: the built-in synthetic dataset and a tiny network, trained and validated on a CPU in minutes.

The recipe lives in the package (vosjax/configs/synthetic.py); this file is what `--config configs/synthetic.py` reads.
"""

from vosjax.configs.synthetic import get_config  # noqa: F401
