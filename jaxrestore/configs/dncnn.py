"""DnCNN-like baselines, `get_config(arg)` with arg `[tiny_]<task>` (tasks as configs/magn.py):
full = DnCNN-S depth 17 × 64 (`DnCNN`'s defaults, without BN, see jaxrestore/models/dncnn.py);
tiny = depth 8 × 32, parameter count close to MAGN-tiny's. Packaged: dncnn_denoise_gray_s25,
dncnn_tiny_denoise_gray_s25 (other tasks by path, e.g. jaxrestore/configs/dncnn.py:jpeg_q10).
"""
from jaxrestore.configs.common import base_config, dagl_training, same_size_task
from jaxrestore.models import model_config
from jaxrestore.models.dncnn import DnCNN



def get_config(arg: str):
    tiny = arg.startswith("tiny_")
    config = base_config()
    same_size_task(config, arg.removeprefix("tiny_"))
    config.model = model_config(DnCNN, "dncnn", channels=config.task.channels,
                                **(dict(n_feats=32, depth=8) if tiny else {}))
    dagl_training(config, tiny)
    return config
