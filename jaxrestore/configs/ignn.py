"""IGNN, `get_config(arg)` with arg `x2`, `x3`, `x4` (the paper's size: 32 residual blocks, 256
features, top_k 5, window 30, patch 3, stride 2) or `tiny_x2`, `tiny_x3`, `tiny_x4` (IGNN-tiny: 4
residual blocks, 32 features, the paper's graph settings; CPU-sized): the packaged configs
ignn_x2 ... ignn_tiny_x4.

    jaxrestore train --config ignn_tiny_x2 --workdir runs/ignn_tiny_x2

Data follow the original (sczhou/IGNN config.py, core/build.py; docs/training.md): HR crops of
160 (×2, ×4) or 198 (×3) pixels, a random RGB channel permutation, batch 2, 800k iterations of
Adam 1e-4 halved four times; the model makes its son image from each LR crop. IGNN-tiny takes
24-pixel LR crops (HR 48 / 72 / 96; the son patch grid then holds enough patches for top_k 5),
batch 8, 1000 steps.
"""
from jaxrestore.configs.common import base_config
from jaxrestore.models import model_config
from jaxrestore.models.ignn import IGNN

HR_CROP = {2: 160, 3: 198, 4: 160}


def ignn_config(scale: int):
    config = base_config()
    config.model = model_config(IGNN, "ignn")  # the scale is the task's
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
    config = ignn_config(scale)
    config.model.n_resblocks = 4
    config.model.n_feats = 32
    config.data.patch_size = 24 * scale
    config.data.batch_size = 8
    config.train.steps = 1000
    return config


def get_config(arg: str):
    size, _, scale = arg.rpartition("x")
    if size not in ("", "tiny_") or scale not in ("2", "3", "4"):
        raise ValueError(f"unknown IGNN config {arg!r}; use x2, x3, x4 or tiny_x2, ...")
    scale = int(scale)
    return ignn_tiny_config(scale) if size else ignn_config(scale)
