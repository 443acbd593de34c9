"""MAGN for every same-size task, `get_config(arg)` with arg `[tiny_]<task>`: the packaged
configs magn[_tiny]_<task>, <task> one of denoise_{gray,color}_{s15,s25,s50,blind} (blind:
sigma in [0, 55]), jpeg_q{10,20,30,40} (grey), demosaic (RGGB as 3-channel masked RGB), e.g.

    jaxrestore train --config magn_tiny_denoise_gray_s25 --workdir runs/magn_tiny_s25
    python train.py --config jaxrestore/configs/magn.py:tiny_jpeg_q10 --workdir runs/q10

Full models are `MAGN`'s defaults (DAGL's width and depth: 64 features, 16 ResBlocks, 3 graph
stages with 4 between) and follow DAGL's recipe (64×64 crops, batch 32, Adam 4e-4 halved every
200k steps, MSE); tiny models are sized to train on a CPU in minutes (docs/magn.md). The
element graph is linear-time; element_pool is read only by the 'pooled' ablation
(--config.model.element_graph=pooled, docs/magn.md).
"""
from jaxrestore.configs.common import base_config, dagl_training, same_size_task
from jaxrestore.models import model_config
from jaxrestore.models.magn import MAGN

TINY = dict(n_feats=16, n_resblocks=2, n_graph_blocks=1, n_between=0, heads=2, element_pool=4,
            patch=5, stride=4, window=5, top_k=4, embed=8)


def get_config(arg: str):
    tiny = arg.startswith("tiny_")
    config = base_config()
    same_size_task(config, arg.removeprefix("tiny_"))
    channels = config.task.channels
    config.model = model_config(MAGN, "magn", in_channels=channels, out_channels=channels,
                                **(TINY if tiny else {}))
    if arg.removeprefix("tiny_") == "demosaic":  # F(x) refines the bilinear estimate
        config.model.residual_base = "bilinear"  # (docs/results.md, Tasks)
    dagl_training(config, tiny)
    return config
