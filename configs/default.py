"""The README's main job: IGNN-tiny ×2 trained for a few minutes on CPU on the photos bundled
with scikit-image (no download), then scored against bicubic on two held-out photos.

    python train.py --config configs/default.py --workdir runs/default

Kill it and run the same command again: it resumes from the newest checkpoint. Everything is
IGNN-tiny ×2 (configs/ignn_tiny_x2.py) except a short, fast schedule: small crops (the graph
search is the costly part) and a 20× larger Adam step than the paper's, halved twice near the
end. Measured (2 shared CPU cores): IGNN-tiny 32.94 dB vs bicubic 32.92 dB (mean of chelsea and
coffee, Y, crop 2) after these 800 steps; 4m50s of CPU time.
"""
from configs.ignn_tiny_x2 import get_config as ignn_tiny_x2


def get_config():
    config = ignn_tiny_x2()
    config.data.patch_size = 24       # HR crop; LR 12, son 6
    config.data.batch_size = 8
    config.train.steps = 800
    config.train.learning_rate = 2e-3
    config.train.schedule = "step"
    config.train.milestones = (500, 700)
    config.train.log_every = 10
    config.train.eval_every = 0       # validate once, at the end
    config.train.checkpoint_every = 200
    return config
