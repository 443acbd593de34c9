"""Restoring image files into a folder (no ground truth), losing nothing.

    plan = plan_outputs(["photos/", "extra.jpg"], "restored/")
    written, failed = restore_files(restorer, plan)

Output names (`plan_outputs`): an input found in a folder keeps its path below that folder, a
file given directly keeps its name; the suffix becomes `.png` (lossless). When two inputs would
get the same output name (`a.png` and `a.jpg`), each of them is named `<stem>_<ext>.png`
(`a_png.png`, `a_jpg.png`), then numbered if still equal. No output may be an input file, and
an existing output is refused unless overwriting is allowed: both are checked for the whole
plan before anything is restored.

Images are read in their own colour mode (grey or RGB; see the colour rule of
`jaxrestore.inference`), restored, and written in that mode. An alpha channel is carried
through: restored separately by bicubic resizing for SR, unchanged otherwise. 16-bit images are
refused (one line, `jaxrestore.data.io`). A file that cannot be read or restored is reported
and skipped; the others are still restored.
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
from jaxrestore.ops.quantize import round_to_uint8, unit_to_uint8


def _inputs(items) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """(input file, its name below the output folder) for files and folders in `items`."""
    found = []
    for item in items:
        item = pathlib.Path(item)
        if not item.exists():
            raise InputError(f"image not found: {item}")
        if item.is_dir():
            paths = io.list_images(item)
            if not paths:
                raise InputError(f"no images found in {item}")
            found.extend((path, path.relative_to(item)) for path in paths)
        else:
            found.extend((path, pathlib.Path(path.name)) for path in io.list_images(item))
    return found


def plan_outputs(items, out_dir, overwrite: bool = False) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """[(input file, output file)] for image files and folders `items` (module doc for the
    names); InputError when an output would replace an input, or exists and not `overwrite`."""
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder {out} is an existing file")
    inputs = _inputs(items)
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
    return plan


def restore_file(restorer, path, target) -> None:
    """Reads `path`, restores it (alpha carried through), writes the PNG `target`."""
    image, alpha = io.read_image_and_alpha(path)
    restored = unit_to_uint8(restorer.restore([image])[0])
    if alpha is not None:
        if restorer.scale > 1:
            alpha = round_to_uint8(imresize_np(alpha.astype(np.float64), restorer.scale))
        restored = np.concatenate([restored, alpha], axis=-1)
    io.write_image(target, restored)


def restore_files(restorer, plan, progress: bool = True, log=None):
    """Restores every (input, output) of `plan`; returns (written outputs, [(input, reason)]
    of the files skipped, each also reported as one line to `log`, default stderr)."""
    log = log or (lambda line: tqdm.write(line, file=sys.stderr))
    written, failed = [], []
    for path, target in tqdm(plan, desc="images", unit="img", disable=not progress,
                             file=sys.stderr):
        try:
            restore_file(restorer, path, target)
        except UserError as error:
            failed.append((path, str(error)))
            log(f"skipped {path}: {error}")
            continue
        written.append(target)
    return written, failed
