"""IGNN-tiny ×3: 4 residual blocks, 32 features, the paper's graph settings; a CPU-sized model
(`ignn_tiny_config` in ignn_x2.py: HR crops of 72 pixels, batch 8, 1000 steps).

    python train.py --config configs/ignn_tiny_x3.py --workdir runs/ignn_tiny_x3
"""
from jaxrestore.configs.ignn_x2 import ignn_tiny_config


def get_config():
    return ignn_tiny_config(3)
