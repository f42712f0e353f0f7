"""The real-video recipe on a 2-core CPU: DAVIS 2016's training videos minus six held-out ones, on a frozen ImageNet
EfficientNet-Lite0.

The recipe lives in the package (vosjax/configs/davis2016_cpu.py, with its networks and held-out videos); this file
is what `--config configs/davis2016_cpu.py` reads.
"""

from vosjax.configs.davis2016_cpu import HOLDOUT, get_config, pretrained_network, small_network  # noqa: F401
