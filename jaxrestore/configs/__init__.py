"""The packaged configs (one file per model × task × scale, `get_config()` each) and how to load
a config by file path or by packaged name.

    config = load("ignn_tiny_x2")             # jaxrestore/configs/ignn_tiny_x2.py
    config = load("my_configs/run.py")        # any file defining get_config()

The files are documented in `common.py` (schema), `ignn_x2.py` and `magn_common.py`; from a
checkout they are also reachable as `configs/<name>.py`.
"""
import importlib.resources
import importlib.util
import os
import pathlib


def packaged(name: str) -> pathlib.Path:
    """The file of the packaged config `name` (`default` → .../jaxrestore/configs/default.py)."""
    return pathlib.Path(str(importlib.resources.files(__name__) / f"{name}.py"))


def names() -> list[str]:
    """The packaged configs' names."""
    folder = pathlib.Path(str(importlib.resources.files(__name__)))
    return sorted(p.stem for p in folder.glob("*.py")
                  if p.stem not in ("__init__", "common", "magn_common"))


def resolve(path_or_name) -> pathlib.Path:
    """A config file path as given if it exists, else the packaged config of that name; raises
    FileNotFoundError (one line) if neither exists."""
    path = pathlib.Path(path_or_name)
    if path.is_file():
        return path
    if os.sep not in str(path_or_name) and packaged(str(path_or_name)).is_file():
        return packaged(str(path_or_name))
    raise FileNotFoundError(f"config file not found: {path_or_name} (give a file, or one of the "
                            f"packaged configs: {', '.join(names())})")


def load(path_or_name):
    """`get_config()` of a config file or packaged config (see `resolve`)."""
    path = resolve(path_or_name)
    spec = importlib.util.spec_from_file_location(f"jaxrestore_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()
