"""IGNN ×4 at the paper's size (see configs/ignn_x2.py).

    python train.py --config configs/ignn_x4.py --workdir runs/ignn_x4
"""
from jaxrestore.configs.ignn_x2 import ignn_config


def get_config():
    return ignn_config(4)
