"""Where training and validation images come from, decoded once and kept in memory.

Sources (the `source` field of a config's `data` section):
- 'skimage': the photos that ship inside the scikit-image wheel (no download), with a fixed
  split: `SKIMAGE_VAL` held out for validation, `SKIMAGE_TRAIN` for training.
- 'folder': image folders (PNG/JPEG/BMP/TIF, recursive), `config.data.train_path` is one
  folder or a comma separated list. Files that fail to decode are skipped with a warning naming
  them; a folder with no readable image is an error.
- 'tfds_div2k': TFDS `div2k/bicubic_x{scale}` with its own LR (see jaxrestore.data.tfds_div2k);
  tasks other than SR use the HR images of `div2k/bicubic_x2`.

Validation images come from `config.data.val_path` (folders, as above) or, when it is '', the
held-out scikit-image photos, whatever the training source.

Each image is a `Sample` (jaxrestore.data.io): a name, the clean uint8 image (H, W, C) with C
the task's channels (grey images become 3 equal channels for colour tasks; colour images become
one channel for grey tasks by jaxrestore.data.io.read_image: MATLAB `rgb2gray`, rounded, which is also OpenCV's
IMREAD_GRAYSCALE up to rounding), and, for sources that ship their own LR (DIV2K), the uint8 LR
image. (DAGL's grey loaders do not convert: DN_Gray keeps channel 0 of OpenCV's BGR read, the
blue channel of DIV2K, and CAR channel 0 of its images; we use the luma instead.)
"""
import importlib.resources
import logging
import pathlib
from typing import List

from jaxrestore.data import io
from jaxrestore.data.io import Sample
from jaxrestore.errors import DataSourceError, ImageReadError

# Photos bundled in the scikit-image wheel (colour photos plus the natural grey ones).
SKIMAGE_TRAIN = ("astronaut.png", "camera.png", "coins.png", "hubble_deep_field.jpg", "ihc.png",
                 "moon.png", "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg")
SKIMAGE_VAL = ("chelsea.png", "coffee.png")
SOURCES = ("skimage", "folder", "tfds_div2k")


def skimage_photos(split: str, channels: int) -> List[Sample]:
    """The bundled scikit-image photos of `split` ('train' | 'val') as Samples."""
    names = {"train": SKIMAGE_TRAIN, "val": SKIMAGE_VAL}[split]
    folder = importlib.resources.files("skimage.data")
    return [Sample(pathlib.Path(n).stem, io.read_image(str(folder / n), channels)) for n in names]


def folder_images(paths: str, channels: int, role: str = "training") -> List[Sample]:
    """Every readable image under the comma separated folders `paths`, in sorted order.

    Unreadable files are skipped with a warning naming their `role` ('training' or
    'validation'); a missing folder or no readable image at all raises DataSourceError.
    """
    folders = [p.strip() for p in paths.split(",") if p.strip()]
    if not folders:
        raise DataSourceError("no image folder given (config.data.train_path / val_path)")
    samples = []
    for folder in folders:
        if not pathlib.Path(folder).is_dir():
            raise DataSourceError(f"image folder not found: {folder}")
        for path in io.list_images(folder):
            try:
                image = io.read_image(path, channels)
            except ImageReadError as error:
                logging.warning("skipping unreadable %s image: %s", role, error)
                continue
            samples.append(Sample(pathlib.Path(path).stem, image))
    if not samples:
        raise DataSourceError(f"no readable PNG/JPEG/BMP/TIF image in {paths}")
    return samples


def training_samples(data, channels: int, scale: int = 1) -> List[Sample]:
    """The training images named by a config's `data` section (see module doc), with
    `channels` channels; `scale` > 1 takes DIV2K's own LR of that scale."""
    if data.source == "skimage":
        return skimage_photos("train", channels)
    if data.source == "folder":
        return folder_images(data.train_path, channels)
    if data.source == "tfds_div2k":
        from jaxrestore.data import tfds_div2k
        if scale == 1:
            return tfds_div2k.load("train", 2, channels, data.tfds_data_dir, with_lr=False)
        return tfds_div2k.load("train", scale, channels, data.tfds_data_dir)
    raise DataSourceError(f"unknown data.source {data.source!r}; use one of {', '.join(SOURCES)}")


def validation_samples(val_path: str, channels: int) -> List[Sample]:
    """The held-out images: the `val_path` folders, or the held-out embedded photos."""
    if val_path:
        return folder_images(val_path, channels, "validation")
    return skimage_photos("val", channels)
