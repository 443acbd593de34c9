"""MAGN-tiny (trains on a CPU), grey blind Gaussian denoising, sigma uniform in [0, 55]."""
from jaxrestore.configs.magn_common import BLIND_SIGMA, magn_config


def get_config():
    return magn_config("denoise", channels=1, sigma=BLIND_SIGMA, tiny=True)
