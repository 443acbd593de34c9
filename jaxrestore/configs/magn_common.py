"""MAGN and DnCNN-baseline configs for every task; the per-task files under configs/ call these.

File names: magn[_tiny]_<task>.py with <task> one of denoise_{gray,color}_s{15,25,50},
denoise_{gray,color}_blind (sigma in [0, 55]), jpeg_q{10,20,30,40} (grey), demosaic (RGGB as
3-channel masked RGB), e.g.

    python train.py --config configs/magn_tiny_denoise_gray_s25.py --workdir runs/magn_tiny_s25

Full models follow DAGL's recipe (64×64 crops, batch 32, Adam 4e-4 halved every 200k steps,
MSE); tiny models are sized to train on a CPU in minutes (docs/magn.md). `dncnn_config` builds
the DnCNN-like baseline the same way.
"""
import ml_collections

from jaxrestore.configs.common import base_config

BLIND_SIGMA = (0.0, 55.0)  # DnCNN-B's blind training range


def _task(config: ml_collections.ConfigDict, task: str, channels: int, sigma, quality) -> None:
    # Rebuilt rather than assigned field by field: a blind range replaces the float default,
    # which ConfigDict's type safety would refuse.
    fields = config.task.to_dict()
    fields.update(name=task, channels=channels)
    if sigma is not None:
        fields["sigma"] = sigma
    if quality is not None:
        fields["quality"] = quality
    config.task = ml_collections.ConfigDict(fields)


def _magn_model(channels: int, tiny: bool) -> ml_collections.ConfigDict:
    model = ml_collections.ConfigDict()
    model.name = "magn"
    model.pixel_range = 1.0
    model.in_channels = channels
    model.out_channels = channels
    if tiny:
        model.update(n_feats=16, n_resblocks=2, n_graph_blocks=1, n_between=0, heads=2,
                     element_pool=4, patch=5, stride=4, window=5, top_k=4, embed=8)
    else:  # DAGL's width and depth (n_feats 64, 16 ResBlocks, 3 graph stages with 4 between)
        model.update(n_feats=64, n_resblocks=16, n_graph_blocks=3, n_between=4, heads=4,
                     element_pool=8, patch=7, stride=4, window=9, top_k=16, embed=16)
    # Linear-time element graph; element_pool is read only by the 'pooled' ablation
    # (--config.model.element_graph=pooled), see docs/magn.md.
    model.element_graph = "linear"
    model.fusion = "cross_gate"
    model.chunk = 256
    return model


def _training(config: ml_collections.ConfigDict, task: str, tiny: bool) -> None:
    if tiny:  # minutes on a CPU
        config.data.patch_size = 48
        config.data.batch_size = 8
        config.train.steps = 3000
        config.train.learning_rate = 1e-3
        config.train.schedule = "constant"
        config.train.loss = "l1"
        config.train.eval_every = 500
        config.train.checkpoint_every = 500
    else:  # DAGL's option.py: 64×64 crops, batch 32, Adam, MSE, lr halved every 200 epochs
        # of 1000 iterations; 1300 (denoise) / 1600 (JPEG) / 1500 (demosaic) epochs
        config.data.patch_size = 64
        config.data.batch_size = 32
        config.train.steps = {"denoise": 1_300_000, "jpeg": 1_600_000}.get(task, 1_500_000)
        config.train.learning_rate = 2e-4 if task == "demosaic" else 4e-4
        config.train.milestones = tuple(range(200_000, config.train.steps, 200_000))
        config.train.loss = "mse"


def magn_config(task: str, channels: int = 1, sigma=None, quality=None,
                tiny: bool = False) -> ml_collections.ConfigDict:
    """A MAGN config for task 'denoise' | 'jpeg' | 'demosaic' (sigma / quality: a number or a
    (low, high) range for a blind model)."""
    config = base_config()
    _task(config, task, channels, sigma, quality)
    config.model = _magn_model(channels, tiny)
    if task == "demosaic":  # F(x) refines the bilinear estimate (docs/results.md, Tasks)
        config.model.residual_base = "bilinear"
    _training(config, task, tiny)
    return config


def dncnn_config(task: str, channels: int = 1, sigma=None, quality=None,
                 tiny: bool = False) -> ml_collections.ConfigDict:
    """A DnCNN-like baseline config: full = DnCNN-S depth 17 × 64 (without BN, see
    jaxrestore/models/dncnn.py); tiny = depth 8 × 32, parameter count close to MAGN-tiny's."""
    config = base_config()
    _task(config, task, channels, sigma, quality)
    config.model = ml_collections.ConfigDict()
    config.model.name = "dncnn"
    config.model.pixel_range = 1.0
    config.model.channels = channels
    config.model.features = 32 if tiny else 64
    config.model.depth = 8 if tiny else 17
    config.model.batch_norm = False
    _training(config, task, tiny)
    return config
