"""The README's main job: IGNN-tiny ×2 trained for a few minutes on CPU on the photos bundled
with scikit-image (no download), then scored against bicubic on two held-out photos.

    python train.py --config configs/default.py --workdir runs/default

Kill it and run the same command again: it resumes from the newest checkpoint. Everything is
IGNN-tiny ×2 (configs/ignn_tiny_x2.py) except a short, fast schedule: small crops (the graph
search is the costly part), a 10× larger Adam step than the paper's, halved twice near the end.
"""
from configs.ignn_tiny_x2 import get_config as ignn_tiny_x2


def get_config():
    config = ignn_tiny_x2()
    config.data.patch_size = 24       # HR crop; LR 12, son 6
    config.data.batch_size = 8
    config.train.steps = 400
    config.train.learning_rate = 1e-3
    config.train.schedule = "step"
    config.train.milestones = (250, 350)
    config.train.log_every = 10
    config.train.eval_every = 0       # validate once, at the end
    config.train.checkpoint_every = 100
    return config
