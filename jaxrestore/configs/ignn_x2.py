"""IGNN ×2 at the paper's size: 32 residual blocks, 256 features, k 5, window 30, patch 3, stride 2.

    python train.py --config configs/ignn_x2.py --workdir runs/ignn_x2

`ignn_config(scale)` here is shared by the ×3/×4 and tiny configs. Data follow the original
(sczhou/IGNN config.py, core/build.py; docs/training.md): HR crops of 160 (×2, ×4) or 198 (×3)
pixels, a random RGB channel permutation, batch 2, 800k iterations of Adam 1e-4 halved four
times; the model makes its son image from each LR crop.
"""
from jaxrestore.configs.common import base_config
from jaxrestore.models.ignn import model_config

HR_CROP = {2: 160, 3: 198, 4: 160}


def ignn_config(scale: int):
    config = base_config()
    config.model = model_config(scale)
    config.task.name = "sr"
    config.task.scale = scale
    config.data.patch_size = HR_CROP[scale]
    config.data.channel_permutation = True
    config.data.batch_size = 2             # the original's batch (config.py)
    config.train.steps = 800_000           # 80 epochs of 10k iterations
    # The original's Adam eps 1e-8 acts on 0..255-unit gradients; ours are /255 (we train on
    # [0, 1] images), so eps/255 takes the original's step (tests/test_ignn_train_reference.py)
    config.train.eps = 1e-8 / 255
    return config


def ignn_tiny_config(scale: int):
    """IGNN-tiny ×scale, a CPU-sized model: 4 residual blocks, 32 features, the paper's graph
    settings; 24-pixel LR crops (the son patch grid then holds enough patches for k 5), batch 8,
    1000 steps."""
    config = ignn_config(scale)
    config.model.n_resblocks = 4
    config.model.n_feats = 32
    config.data.patch_size = 24 * scale
    config.data.batch_size = 8
    config.train.steps = 1000
    return config


def get_config():
    return ignn_config(2)
