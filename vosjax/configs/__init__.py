"""The training recipes: ml_collections `get_config()` functions, as big_vision's configs.

`base` holds the shared defaults (the paper's network and training settings) that every recipe imports; each other
module is one recipe. `train.py --config configs/NAME.py` reads the repository's top-level `configs/NAME.py`, a thin
file that returns this package's recipe, so the recipes (and the networks they define) are importable wherever
vosjax is installed: `from vosjax.configs import synthetic`. Nothing in the library imports them.
"""
