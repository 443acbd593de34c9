"""DIV2K through TensorFlow Datasets' own builder (`div2k/bicubic_x{2,3,4,8}`), an optional extra.

tensorflow-datasets (and TensorFlow, which it needs to read its records) is imported only here,
only when this source is used. Offline, tfds would retry the DIV2K download for many minutes, so
we never let it try: if the prepared dataset is not in the data directory we fail at once with
one line that says how to prepare it (on a machine with internet, `tfds build`).

The data directory is the config's data.tfds_data_dir, else $TFDS_DATA_DIR, else
~/tensorflow_datasets (tfds' own default). The HR images ('hr') and tfds' LR ('lr', made by
DIV2K's authors with MATLAB bicubic) are decoded once into memory: about 7 GB of uint8 for the
800 training HR images plus their LR, so this source wants a machine with that much RAM.
"""
import os
import pathlib
from typing import List

import numpy as np

from jaxrestore.data import io
from jaxrestore.data.io import Sample
from jaxrestore.errors import DataSourceError

SCALES = (2, 3, 4, 8)
SPLITS = {"train": "train", "val": "validation"}


def data_dir(configured: str = "") -> pathlib.Path:
    """The TFDS data directory: the configured one, $TFDS_DATA_DIR, or ~/tensorflow_datasets."""
    path = configured or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return pathlib.Path(path).expanduser()


def builder_name(scale: int) -> str:
    if scale not in SCALES:
        raise DataSourceError(f"TFDS div2k has bicubic scales {SCALES}, not x{scale}")
    return f"div2k/bicubic_x{scale}"


def check_prepared(scale: int, directory: pathlib.Path) -> None:
    """Raises DataSourceError (one line, how to prepare) unless div2k/bicubic_x{scale} has a
    prepared version under `directory`. Touches only the local file system, never the network."""
    name = builder_name(scale)
    if not any((directory / name).glob("*/dataset_info.json")):
        raise DataSourceError(
            f"TFDS {name} is not prepared in {directory}; prepare it once with internet: "
            f"pip install tensorflow tensorflow-datasets && tfds build {name} "
            f"--data_dir {directory} (or set data.tfds_data_dir to where it is)")


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise DataSourceError(
            "data.source='tfds_div2k' needs the optional extra: "
            f"pip install tensorflow tensorflow-datasets ({error})") from None
    return tfds


def _channels(rgb, channels: int) -> np.ndarray:
    """DIV2K's RGB uint8 -> (H, W, channels), grey by MATLAB rgb2gray as jaxrestore.data.io."""
    rgb = np.asarray(rgb, np.uint8)
    return io.rgb_to_gray(rgb) if channels == 1 else rgb


def load(split: str, scale: int, channels: int, configured_dir: str = "",
         with_lr: bool = True) -> List[Sample]:
    """DIV2K `split` ('train' | 'val') as Samples (HR image, and tfds' LR when `with_lr`)."""
    directory = data_dir(configured_dir)
    check_prepared(scale, directory)
    tfds = _import_tfds()
    builder = tfds.builder(builder_name(scale), data_dir=str(directory), try_gcs=False)
    dataset = builder.as_dataset(split=SPLITS[split], shuffle_files=False)
    samples = []
    for index, example in enumerate(tfds.as_numpy(dataset)):
        hr = _channels(example["hr"], channels)
        lr = _channels(example["lr"], channels) if with_lr else None
        samples.append(Sample(f"div2k_{split}_{index:04d}", hr, lr))
    if not samples:
        raise DataSourceError(f"TFDS {builder_name(scale)} split {split!r} is empty in {directory}")
    return samples
