"""Training: train state, per-replica step, data-parallel drivers, the loop (checkpoints:
`jaxrestore.checkpoints`)."""
