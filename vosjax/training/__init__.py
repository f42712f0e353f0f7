"""Training: the train state, loss, jitted data-parallel step, checkpoints and the loop (`train_lib`)."""
