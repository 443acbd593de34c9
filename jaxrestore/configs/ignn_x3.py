"""IGNN ×3 at the paper's size (see configs/ignn_x2.py).

    python train.py --config configs/ignn_x3.py --workdir runs/ignn_x3
"""
from jaxrestore.configs.ignn_x2 import ignn_config


def get_config():
    return ignn_config(3)
