"""Training: train state, per-replica step, data-parallel drivers, checkpoints."""
