"""The packaged configs and how to load a config by file path or by packaged name.

    config = load("ignn_tiny_x2")             # configs/ignn.py, get_config("tiny_x2")
    config = load("default")                  # configs/default.py, get_config()
    config = load("my_configs/run.py")        # any file defining get_config()
    config = load("jaxrestore/configs/magn.py:tiny_jpeg_q10")   # a file and its argument

One file per model family (`ignn.py`, `magn.py`, `dncnn.py`) with `get_config(arg)`
(big_vision's configs-as-code); `PACKAGED` lists the arguments each packages, under the name
`<family>_<arg>` (e.g. `magn_tiny_denoise_gray_s25`). `default.py` is the README's main job;
`common.py` documents the schema. From a checkout they are also under `configs/`.
"""
import importlib.resources
import importlib.util
import os
import pathlib

from jaxrestore.configs.common import SAME_SIZE_TASKS

SINGLE = ("default",)
PACKAGED = {
    "ignn": ("x2", "x3", "x4", "tiny_x2", "tiny_x3", "tiny_x4"),
    "magn": tuple(f"{size}{task}" for size in ("", "tiny_") for task in SAME_SIZE_TASKS),
    "dncnn": ("denoise_gray_s25", "tiny_denoise_gray_s25"),
}


def _folder() -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files(__name__)))


def _exec(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"jaxrestore_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names() -> list[str]:
    """The packaged configs' names."""
    return sorted([*SINGLE, *(f"{family}_{arg}" for family, args in PACKAGED.items()
                              for arg in args)])


def packaged(name: str) -> tuple[pathlib.Path, str | None] | None:
    """(file, get_config argument or None) of the packaged config `name`, or None."""
    if name in SINGLE:
        return _folder() / f"{name}.py", None
    family, _, arg = name.partition("_")
    if arg in PACKAGED.get(family, ()):
        return _folder() / f"{family}.py", arg
    return None


def resolve(path_or_name) -> str:
    """A config spec for ml_collections' config flag: a file path as given if it exists
    (optionally `path:arg`), else the packaged config of that name as `file[:arg]`; raises
    FileNotFoundError (one line) if neither exists."""
    text = str(path_or_name)
    path, _, arg = text.partition(":")
    if pathlib.Path(path).is_file():
        return text
    found = os.sep not in text and packaged(text)
    if found:
        file, arg = found
        return str(file) if arg is None else f"{file}:{arg}"
    raise FileNotFoundError(f"config file not found: {path_or_name} (give a file, or one of the "
                            f"packaged configs: {', '.join(names())})")


def load(path_or_name):
    """The config of a file, `file:arg` or packaged name (see `resolve`)."""
    path, _, arg = resolve(path_or_name).partition(":")
    module = _exec(pathlib.Path(path))
    return module.get_config(arg) if arg else module.get_config()
