"""MAGN (full size), grey JPEG artifact removal at quality 20."""
from jaxrestore.configs.magn_common import magn_config


def get_config():
    return magn_config("jpeg", channels=1, quality=20)
