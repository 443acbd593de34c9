"""IGNN-tiny ×4: 4 residual blocks, 32 features, the paper's graph settings; a CPU-sized model
(`ignn_tiny_config` in ignn_x2.py: HR crops of 96 pixels, batch 8, 1000 steps).

    python train.py --config configs/ignn_tiny_x4.py --workdir runs/ignn_tiny_x4
"""
from jaxrestore.configs.ignn_x2 import ignn_tiny_config


def get_config():
    return ignn_tiny_config(4)
