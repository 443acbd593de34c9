"""IGNN-tiny ×2: 4 residual blocks, 32 features, the paper's graph settings; a CPU-sized model.

    python train.py --config configs/ignn_tiny_x2.py --workdir runs/ignn_tiny_x2

Training crops: 48 HR pixels (24 LR), so the son patch grid holds enough patches for k 5.
"""
from jaxrestore.configs.ignn_x2 import ignn_config


def get_config():
    config = ignn_config(2)
    config.model.n_resblocks = 4
    config.model.n_feats = 32
    config.data.patch_size = 48
    config.data.batch_size = 8
    config.train.steps = 1000
    return config
