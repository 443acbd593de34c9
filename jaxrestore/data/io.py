"""Reading and writing 8-bit images as uint8 HWC NumPy arrays (Pillow).

Channel rules of `read_image(path, channels)`:
- channels=None: grey files give (H, W, 1), colour files (H, W, 3).
- channels=3: a grey file is repeated into 3 equal channels (how SR test sets read Set14
  `bridge`, as OpenCV's default read and BasicSR do).
- channels=1: a colour file whose 3 channels are equal gives that channel; any other colour
  file is converted like MATLAB `rgb2gray` (0.298936 R + 0.587043 G + 0.114020 B, rounded
  half up), the usual way grey benchmark sets were made from colour photographs.
- Palette files are expanded; bilevel files become 0/255; an alpha channel is dropped only
  if it is fully opaque, otherwise the file is refused; 16-bit and float files are refused.
- EXIF orientation is applied (as OpenCV's `imread`).
Every failure is an `ImageReadError` whose one-line message names the path.
"""
import os
import pathlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
# MATLAB rgb2gray coefficients (first row of the inverse NTSC transform).
RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


class ImageReadError(ValueError):
    """An image file that is missing, unreadable or in an unsupported format."""


def _to_8bit_array(image: Image.Image, path) -> np.ndarray:
    """Pillow image → uint8 (H, W, 1) or (H, W, 3), refusing what cannot be read faithfully."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        raise ImageReadError(f"{path}: {mode} is a 16-bit/32-bit image; only 8-bit images are supported")
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
        image = image.convert(mode)
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode in ("RGBA", "LA"):
        array = np.asarray(image)
        if array[..., -1].min() < 255:
            raise ImageReadError(f"{path}: has transparency ({mode} with alpha < 255); flatten it first")
        return array[..., :-1].reshape(array.shape[:2] + (len(mode) - 1,))
    if mode == "L":
        return np.asarray(image)[..., None]
    if mode == "RGB":
        return np.asarray(image)
    raise ImageReadError(f"{path}: unsupported image mode {mode}")


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2gray` on uint8 (H, W, 3) → uint8 (H, W, 1), rounded half up."""
    grey = np.floor(rgb.astype(np.float64) @ RGB2GRAY + 0.5)
    return np.clip(grey, 0, 255).astype(np.uint8)[..., None]


def read_image(path, channels=None) -> np.ndarray:
    """Reads an 8-bit image file as uint8 (H, W, C); C = channels or the file's own (1 or 3)."""
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
    if not os.path.exists(path):
        raise ImageReadError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageReadError(f"{path}: is a directory, not an image file")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            array = _to_8bit_array(image, path)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageReadError(f"{path}: not a readable image file ({error})") from None
    if channels == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 1 and array.shape[2] == 3:
        array = rgb_to_gray(array)
    return np.ascontiguousarray(array)


def write_image(path, image: np.ndarray) -> None:
    """Writes uint8 (H, W), (H, W, 1) or (H, W, 3); format from the extension (PNG is lossless).

    Creates missing parent folders. Float images are refused: convert them first (e.g. clamp
    to [0, 1], x255, round) so that what is written is what is scored.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"write_image expects (H, W), (H, W, 1) or (H, W, 3), got {image.shape}")
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, "L" if image.ndim == 2 else "RGB").save(path)


def list_images(folder_or_file) -> list:
    """Sorted image paths (PNG/JPEG/BMP/TIFF, any case) under a folder, recursively.

    A single image file gives [that file]. Hidden files (names starting with '.') are skipped.
    A folder without images gives [].
    """
    root = pathlib.Path(folder_or_file)
    if not root.exists():
        raise ImageReadError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ImageReadError(f"{root}: not an image file (expected {', '.join(IMAGE_EXTENSIONS)})")
        return [root]
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))
