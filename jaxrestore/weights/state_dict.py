"""State dicts from files: `.pth`/`.pt` (no torch needed, no code run), `.safetensors`, `.npz`.

A state dict here is {PyTorch parameter name: float32 NumPy array in PyTorch's layout}.
The file's format is recognised from its first bytes, not its name.
"""
import hashlib
import json
import pathlib
import struct
import zipfile

import ml_dtypes
import numpy as np

from jaxrestore.errors import UserError
from jaxrestore.weights import pth

# Keys under which training code stores the state dict beside other things: IGNN's release,
# plain `torch.save({'state_dict': ...})`, BasicSR (EMA weights preferred).
WRAPPERS = ("net_state_dict", "state_dict", "params_ema", "params")
DP_PREFIX = "module."  # torch.nn.DataParallel
COUNTERS = ("num_batches_tracked",)  # integer BN step counters, unused at inference


class WeightsError(UserError):
    """A weights file that cannot be read as a state dict (message names what is wrong)."""


def file_sha256(path) -> str:
    """Hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_format(path) -> str:
    """'pth', 'safetensors' or 'npz', from the file's first bytes (WeightsError otherwise)."""
    with open(path, "rb") as file:
        start = file.read(9)
    if start[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as error:
            raise WeightsError(f"{path}: damaged zip archive ({error})") from None
        return "pth" if any(n.endswith("/data.pkl") for n in names) else "npz"
    if start[:2] == b"\x80\x02":
        return "pth"
    if len(start) == 9 and start[8:9] == b"{" and struct.unpack("<Q", start[:8])[0] > 1:
        return "safetensors"
    raise WeightsError(f"{path}: not a .pth (zip or legacy), .safetensors or .npz file")


def read_tensors(path) -> object:
    """What the file holds, tensors as NumPy arrays (a .pth may hold any plain containers)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    kind = file_format(path)
    try:
        if kind == "pth":
            return pth.read_pth(path)
        if kind == "safetensors":
            return _read_safetensors(path)
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except WeightsError:
        raise
    except pth.UnsafePickleError as error:
        raise WeightsError(f"{path}: {error}") from None
    except (UserError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise WeightsError(f"cannot read {path} as {kind}: {_first_line(error)}") from None


def _read_safetensors(path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        return load_file(path)
    except SafetensorError as error:
        raise WeightsError(f"cannot read {path} as safetensors: {_first_line(error)}") from None


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_float(array) -> bool:
    return array.dtype.kind == "f" or array.dtype == ml_dtypes.bfloat16


def state_dict(tree, source="state dict") -> dict[str, np.ndarray]:
    """{name: float32 array} from what a weights file holds: unwraps WRAPPERS, strips
    `module.`, drops BN step counters; WeightsError for anything that is not a mapping of
    float tensors (`source` names the file in messages)."""
    for key in WRAPPERS:
        if isinstance(tree, dict) and isinstance(tree.get(key), dict):
            tree = tree[key]
            break
    if not isinstance(tree, dict) or not tree:
        raise WeightsError(f"{source} does not hold a state dict (a mapping of tensors)")
    state = {}
    for key, value in tree.items():
        name = str(key).removeprefix(DP_PREFIX)
        if name.rsplit(".", 1)[-1] in COUNTERS:
            continue
        if not isinstance(value, np.ndarray) or not _is_float(value):
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise WeightsError(f"{source}: {key} is not a float tensor ({what})")
        state[name] = value.astype(np.float32)
    return state


def load_state_dict(path) -> dict[str, np.ndarray]:
    """{PyTorch name: float32 array} of a .pth/.pt, .safetensors or .npz file (see `state_dict`)."""
    return state_dict(read_tensors(path), source=str(path))


def save_safetensors(path, state: dict, metadata: dict | None = None) -> None:
    """Writes {name: array} to `path` as safetensors; `metadata` values are stored as text
    (non-strings as JSON)."""
    from safetensors.numpy import save_file
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(path), metadata=text)
