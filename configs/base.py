"""The shared defaults every recipe imports (the paper's network and training settings): vosjax/configs/base.py."""

from vosjax.configs.base import get_config, model_block  # noqa: F401
