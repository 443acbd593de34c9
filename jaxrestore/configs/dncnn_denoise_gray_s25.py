"""DnCNN-like baseline (DnCNN-S size, no BN), grey Gaussian denoising at sigma 25."""
from jaxrestore.configs.magn_common import dncnn_config


def get_config():
    return dncnn_config("denoise", channels=1, sigma=25.0)
