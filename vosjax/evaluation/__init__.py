"""Evaluation: segmenting splits and scoring them (`evaluate_lib` is what evaluate.py does; `video_eval` scores
videos in memory for training's validation; `baselines` are the methods without a network).

Nothing is imported here, so that `evaluate.py` can read the baselines' names without starting JAX."""
