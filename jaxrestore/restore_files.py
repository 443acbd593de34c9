"""Restoring image files into a folder (no ground truth), losing nothing.

    plan, ignored = plan_outputs(["photos/", "extra.jpg"], "restored/")
    written, failed = restore_files(restorer, plan)

Output names (`plan_outputs`): an input found in a folder keeps its path below that folder, a
file given directly keeps its name; the suffix becomes `.png` (lossless). When two inputs would
get the same output name (`a.png` and `a.jpg`), each of them is named `<stem>_<ext>.png`
(`a_png.png`, `a_jpg.png`), then numbered if still equal. No output may be an input file, and
an existing output is refused unless overwriting is allowed: both are checked for the whole
plan before anything is restored. Files inside an input folder that are not images (by their
extension) and PNGs this tool wrote (`jaxrestore.data.io.RESTORED_MARK` in their metadata, so
that `--out` equal to an input folder never restores an earlier output again) are not taken
as inputs: `plan_outputs` lists them as ignored. A file named directly is always an input.

Images are read in their own colour mode (grey or RGB; see the colour rule of
`jaxrestore.inference`), restored, and written in that mode. An alpha channel is carried
through: restored separately by bicubic resizing for SR, unchanged otherwise. 16-bit images are
refused (one line, `jaxrestore.data.io`). A file that cannot be read or restored (also one
whose restoration would need more memory than the machine has free) is reported and skipped;
the others are still restored. Outputs are written atomically; a write that fails (full disk)
stops the run with one line naming what was written (`jaxrestore.data.io.write_failure`).
"""
import collections
import os
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from jaxrestore.data import io
from jaxrestore.errors import InputError, UserError
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.ops.tiling import row_bands
from jaxrestore.ops.quantize import round_to_uint8, unit_to_uint8


def _inputs(items) -> tuple[list, list]:
    """([(input file, its name below the output folder)], [(ignored file, why)]) for files and
    folders in `items`."""
    found, ignored = [], []
    for item in items:
        item = pathlib.Path(item)
        if not item.exists():
            raise InputError(f"image not found: {item}")
        if item.is_dir():
            paths, others = io.list_folder(item)
            ignored.extend((path, "not an image file") for path in others)
            outputs = [path for path in paths if io.is_restored_output(path)]
            ignored.extend((path, "written by eval restore") for path in outputs)
            paths = [path for path in paths if path not in outputs]
            if not paths:
                raise InputError(f"no images found in {item}")
            found.extend((path, path.relative_to(item)) for path in paths)
        else:
            found.extend((path, pathlib.Path(path.name)) for path in io.list_images(item))
    return found, ignored


def plan_outputs(items, out_dir, overwrite: bool = False) -> tuple[list, list]:
    """([(input file, output file)], [(ignored file, why)]) for image files and folders `items`
    (module doc for the names and what is ignored); InputError when an output would replace an
    input, or exists and not `overwrite`."""
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder {out} is an existing file")
    inputs, ignored = _inputs(items)
    names = [relative.with_suffix(".png") for _, relative in inputs]
    by_name = collections.defaultdict(list)
    for index, name in enumerate(names):
        by_name[name].append(index)
    for name, indices in by_name.items():
        if len(indices) > 1:
            for index in indices:
                path, relative = inputs[index]
                names[index] = relative.with_name(
                    f"{relative.stem}_{relative.suffix.lstrip('.').lower()}.png")
    seen = collections.Counter()
    for index, name in enumerate(names):
        seen[name] += 1
        if seen[name] > 1:
            names[index] = name.with_name(f"{name.stem}_{seen[name]}.png")
    plan = [(path, out / name) for (path, _), name in zip(inputs, names)]
    resolved_inputs = {os.path.realpath(path) for path, _ in plan}
    for path, target in plan:
        if os.path.realpath(target) in resolved_inputs:
            raise InputError(f"the output for {path} would replace the input file {target}; "
                             "choose another output folder")
    existing = [target for _, target in plan if target.exists()]
    if existing and not overwrite:
        raise InputError(f"{len(existing)} output file(s) already exist (e.g. {existing[0]}); "
                         "choose another output folder or allow overwriting")
    return plan, ignored


def _available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux /proc/meminfo), None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_memory(restorer, image: np.ndarray, path) -> None:
    """InputError when restoring `image` (H, W, C) needs clearly more memory than is available:
    its float32 model input, float32 output and uint8 output (`jaxrestore.inference`)."""
    h, w = image.shape[:2]
    s, channels = restorer.scale, max(restorer.channels, image.shape[-1])
    needed = h * w * channels * 4 + (h * s) * (w * s) * channels * (4 + 1)
    available = _available_memory()
    if available is not None and needed > available:
        raise InputError(f"{path}: a {h}x{w} image needs about {needed / 2**30:.1f} GiB of "
                         f"memory to restore, {available / 2**30:.1f} GiB are available")


def restore_file(restorer, path, target, progress: bool = False) -> None:
    """Reads `path`, restores it (alpha carried through; a tile progress bar when `progress`),
    writes the PNG `target` with the mark of a restored output."""
    image, alpha = io.read_image_and_alpha(path)
    _check_memory(restorer, image, path)
    restored = restorer.restore([image], progress=progress)[0]
    channels = restored.shape[-1] + (alpha is not None)
    pixels = np.empty(restored.shape[:2] + (channels,), np.uint8)
    for band in row_bands(len(restored)):  # no image-sized float64 temporary
        pixels[band, :, :restored.shape[-1]] = unit_to_uint8(restored[band])
    del restored
    if alpha is not None:
        if restorer.scale > 1:
            alpha = round_to_uint8(imresize_np(alpha.astype(np.float64), restorer.scale))
        pixels[..., -1:] = alpha
    io.write_image(target, pixels, mark=True)


def restore_files(restorer, plan, progress: bool = True, log=None):
    """Restores every (input, output) of `plan`; returns (written outputs, [(input, reason)]
    of the files skipped, each also reported as one line to `log`, default stderr). A failed
    write raises `io.write_failure`'s error naming what was written; Ctrl-C a KeyboardInterrupt that
    says how many outputs were written."""
    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    written, failed = [], []
    with tqdm(plan, desc="images", unit="img", disable=not progress, file=sys.stderr) as bar:
        for path, target in bar:
            try:
                restore_file(restorer, path, target, progress)
            except UserError as error:
                failed.append((path, str(error)))
                log(f"skipped {path}: {error}")
                continue
            except OSError as error:
                raise io.write_failure(error, written) from None
            except KeyboardInterrupt:
                raise KeyboardInterrupt(f"{len(written)} of {len(plan)} outputs written, "
                                        "each complete") from None
            written.append(target)
    return written, failed
