"""Reading and writing 8-bit images as uint8 HWC NumPy arrays (Pillow).

Channel rules of `read_image(path, channels)`:
- channels=None: grey files give (H, W, 1), colour files (H, W, 3).
- channels=3: a grey file is repeated into 3 equal channels (how SR test sets read Set14
  `bridge`, as OpenCV's default read and BasicSR do).
- channels=1: a colour file whose 3 channels are equal gives that channel; any other colour
  file is converted like MATLAB `rgb2gray` (0.298936 R + 0.587043 G + 0.114020 B, rounded
  half up), the usual way grey benchmark sets were made from colour photographs.
- Palette files are expanded; bilevel files become 0/255; an alpha channel is dropped only
  if it is fully opaque, otherwise the file is refused (`read_image_and_alpha` returns it);
  16-bit and float files are refused (Pillow would silently cut 16-bit RGB PNGs to 8 bits).
- EXIF orientation is applied (as OpenCV's `imread`).
- CMYK and other colour spaces are refused with the advice to convert to RGB; animated or
  multi-frame files (GIF, TIFF) are refused (which frame would be meant is not known).
Every failure is an `ImageReadError` whose one-line message names the path. A decoded
training or validation image travels as a `Sample`.

Writing (`write_image`) goes to a hidden temporary file renamed over the target, so a failed
write (full disk) never leaves a half-written image under the target's name. `eval restore`
marks what it writes (`RESTORED_MARK` in the PNG's text chunks), so `list_folder` can tell a
tool output from an input.
"""
import dataclasses
import os
import pathlib
import tempfile
import warnings
from typing import Optional

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from jaxrestore.errors import DISK_FULL_ERRNOS, DiskFull, ImageReadError, OutputError
from jaxrestore.ops.color import rgb_to_luma
from jaxrestore.ops.quantize import round_to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
RESTORED_MARK = ("jaxrestore", "restored")  # PNG text chunk (key, value) of `eval restore`'s outputs

@dataclasses.dataclass(frozen=True)
class Sample:
    """One decoded image: `image` uint8 (H, W, C); `lr` uint8 (H/s, W/s, C) when the source
    provides its own LR (then `image` is its aligned HR)."""
    name: str
    image: np.ndarray
    lr: Optional[np.ndarray] = None


EIGHT_BIT_ADVICE = "jaxrestore reads 8-bit images; convert it first (e.g. `convert IN -depth 8 OUT.png`)"
RGB_ADVICE = ("jaxrestore reads 8-bit RGB or grey images; convert it to RGB first "
              "(e.g. `convert IN -colorspace sRGB -depth 8 OUT.png`)")


def _decode(image: Image.Image, path) -> tuple[np.ndarray, np.ndarray | None]:
    """Pillow image → (uint8 (H, W, 1) or (H, W, 3), alpha uint8 (H, W, 1) or None), refusing
    what cannot be read faithfully (16-bit, float)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") or any(
            ";16" in str(tile.args) for tile in getattr(image, "tile", None) or []):
        raise ImageReadError(f"{path}: is a 16-bit or 32-bit image; {EIGHT_BIT_ADVICE}")
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise ImageReadError(f"{path}: is an animated or multi-frame image ({frames} frames); "
                             "save the frame to restore as a PNG first")
    image.load()
    image = ImageOps.exif_transpose(image)
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
        image = image.convert(mode)
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode in ("RGBA", "LA"):
        array = np.asarray(image)
        colour = array[..., :-1].reshape(array.shape[:2] + (len(mode) - 1,))
        return colour, array[..., -1:]
    if mode == "L":
        return np.asarray(image)[..., None], None
    if mode == "RGB":
        return np.asarray(image), None
    raise ImageReadError(f"{path}: is a {mode} image; {RGB_ADVICE}")


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB `rgb2gray` on uint8 (H, W, 3) → uint8 (H, W, 1), rounded half up."""
    return round_to_uint8(rgb_to_luma(rgb.astype(np.float64)))


def read_image_and_alpha(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Reads an 8-bit image file as (uint8 (H, W, C) with the file's own C (1 or 3), its alpha
    channel uint8 (H, W, 1) or None)."""
    if not os.path.exists(path):
        raise ImageReadError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageReadError(f"{path}: is a directory, not an image file")
    try:  # above Pillow's decompression-bomb limit (179 MP) a file is refused, below it read
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                array, alpha = _decode(image, path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as error:
        if isinstance(error, ImageReadError):
            raise
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ImageReadError(f"{path}: not a readable image file ({first})") from None
    return np.ascontiguousarray(array), alpha


def read_image(path, channels=None) -> np.ndarray:
    """Reads an 8-bit image file as uint8 (H, W, C); C = channels or the file's own (1 or 3).
    A file with transparency (alpha < 255 anywhere) is refused; an opaque alpha is dropped."""
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
    array, alpha = read_image_and_alpha(path)
    if alpha is not None and alpha.min() < 255:
        raise ImageReadError(f"{path}: has transparency (alpha < 255); flatten it first")
    if channels == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 1 and array.shape[2] == 3:
        array = rgb_to_gray(array)
    return np.ascontiguousarray(array)


def write_image(path, image: np.ndarray, mark: bool = False) -> None:
    """Writes uint8 (H, W), (H, W, 1) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4)
    RGBA; format from the extension (PNG is lossless). Creates missing parent folders. Float
    images are refused: convert them first (`jaxrestore.ops.quantize.unit_to_uint8`) so that
    what is written is what is scored. mark: a PNG gets the `RESTORED_MARK` text chunk.
    Atomic: a failure (OSError, e.g. a full disk) leaves no file under `path`'s name.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    modes = {2: "L", 3: {2: "LA", 3: "RGB", 4: "RGBA"}}
    mode = modes.get(image.ndim)
    mode = mode.get(image.shape[2]) if isinstance(mode, dict) else mode
    if mode is None:
        raise ValueError(f"write_image expects (H, W[, 1|2|3|4]), got {image.shape}")
    path = pathlib.Path(path)
    file_format = Image.registered_extensions().get(path.suffix.lower())
    if file_format is None:
        raise ValueError(f"write_image cannot tell the format of {path} from its extension")
    options = {}
    if mark and file_format == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_text(*RESTORED_MARK)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        Image.fromarray(image, mode).save(partial, format=file_format, **options)
        os.replace(partial, path)
    except OSError as error:  # named after the target, not the temporary file
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None
    finally:
        partial.unlink(missing_ok=True)


def write_failure(error: OSError, written: list) -> OutputError:
    """The one-line error (DiskFull for no space or quota, else OutputError; both exit status 1)
    for a failed write (`error` names the file) after `written` files were written, in order."""
    done = (f"{len(written)} file(s) were written before it, the last {written[-1]}"
            if written else "nothing was written before it")
    kind = DiskFull if error.errno in DISK_FULL_ERRNOS else OutputError
    return kind(f"could not write {error.filename or 'an output file'}: "
                f"{error.strerror or error}; {done}")


def is_restored_output(path) -> bool:
    """Whether `path` is a PNG written by `eval restore` (it carries `RESTORED_MARK`)."""
    if pathlib.Path(path).suffix.lower() != ".png":
        return False
    try:
        with Image.open(path) as image:  # reads the chunks before the pixel data only
            return image.info.get(RESTORED_MARK[0]) == RESTORED_MARK[1]
    except (OSError, SyntaxError, ValueError):
        return False


def check_writable_folder(folder) -> None:
    """Creates `folder` (and its parents) and writes, syncs and removes a 64 KiB probe file in
    it; OutputError naming the folder if any of that fails (read-only, full, under a file)."""
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".jaxrestore-probe-") as probe:
            probe.write(bytes(65536))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise OutputError(f"cannot write into the output folder {folder}: "
                          f"{error.strerror or error}") from None


def list_folder(folder_or_file) -> tuple[list, list]:
    """(image paths as `list_images`, other files): the non-hidden files under a folder whose
    extension is not an image's, sorted; a file gives ([file], [])."""
    root = pathlib.Path(folder_or_file)
    if not root.exists():
        raise ImageReadError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ImageReadError(f"{root}: not an image file (expected {', '.join(IMAGE_EXTENSIONS)})")
        return [root], []
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    return images, [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]


def list_images(folder_or_file) -> list:
    """Sorted image paths (PNG/JPEG/BMP/TIFF/GIF/WebP, any case) under a folder, recursively.

    A single image file gives [that file]. Hidden files (names starting with '.') are skipped.
    A folder without images gives [].
    """
    return list_folder(folder_or_file)[0]
