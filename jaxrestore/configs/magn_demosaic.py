"""MAGN (full size), demosaicing of the RGGB mosaic (3-channel masked form)."""
from jaxrestore.configs.magn_common import magn_config


def get_config():
    return magn_config("demosaic", channels=3)
