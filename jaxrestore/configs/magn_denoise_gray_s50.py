"""MAGN (full size), grey Gaussian denoising at sigma 50."""
from jaxrestore.configs.magn_common import magn_config


def get_config():
    return magn_config("denoise", channels=1, sigma=50.0)
