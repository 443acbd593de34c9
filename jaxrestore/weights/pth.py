"""Read PyTorch `.pth` files without torch and without running any code they hold.

    tree = read_pth("model.pth")   # nested dicts/lists/tuples of NumPy arrays

`torch.save` writes a pickle, and unpickling calls whatever functions the file names: a `.pth`
from the internet can run code on load. This reader unpickles with `find_class` restricted to
what a saved tensor needs (`ALLOWED_GLOBALS`: torch's tensor and parameter rebuild functions,
the typed storage classes, `collections.OrderedDict`; plain dicts, lists, tuples, strings and
numbers need no global). Anything else is refused with one line naming the global, before it
is called. The names are looked up in a table of our own functions: torch is never imported.

Two layouts of `torch.save` are read:
- zip (torch >= 1.6): `<dir>/data.pkl` plus one raw file `<dir>/data/<key>` per storage, and
  `<dir>/byteorder`;
- legacy (pre-1.6, `_use_new_zipfile_serialization=False`): pickles of the magic number, the
  protocol version and a system-info dict, then the pickled object, then a pickled list of
  storage keys, then per storage an int64 element count and the raw bytes.
Storages are persistent ids in the pickle; a tensor is (storage, offset, size, stride), checked
to lie inside its storage before any array view is made.
"""
import collections
import dataclasses
import io
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

from jaxrestore.errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(UserError):
    """The pickle names a global that a state dict does not need (it could run code)."""


class PthFormatError(UserError):
    """The file is not a readable torch.save file."""


class _Inert:
    """Refuses pickle's BUILD, so a file cannot set the fields of our own objects."""

    def __setstate__(self, state):
        raise PthFormatError(f"the pickle sets the state of a {type(self).__name__[1:]}")


@dataclasses.dataclass(frozen=True)
class _StorageType(_Inert):
    """Stands for `torch.<Name>Storage` in the pickle: only its element dtype matters."""
    dtype: np.dtype


@dataclasses.dataclass(eq=False)
class _Storage(_Inert):
    """A storage named by a persistent id; `data` (1-D, `numel` elements) is filled later."""
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class _Tensor(_Inert):
    """A tensor as pickled: a strided view of `storage`, made into an array by `_array`."""
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise PthFormatError("a tensor refers to something that is not a storage")
    return _Tensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(np.dtype(dtype)) for name, dtype in STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ALLOWED_GLOBALS and storage persistent ids."""

    def __init__(self, file, storages: dict):
        super().__init__(file, encoding="utf-8")
        self.storages = storages  # key → _Storage, shared by every pickle of one file

    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refused: the pickle asks for {module}.{name}, which a state dict of tensors "
                "does not need (loading it could run code); nothing was run")
        return ALLOWED_GLOBALS[module, name]

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy adds view_metadata
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[4], int)):
            raise PthFormatError(f"unknown persistent id {str(pid)[:60]}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        storage = self.storages.setdefault(key, _Storage(key, storage_type.dtype, numel))
        if len(pid) == 6 and pid[5] is not None:
            raise PthFormatError("storage views of the legacy layout are not supported")
        return storage


def _load_pickle(file, storages: dict):
    try:
        return _RestrictedUnpickler(file, storages).load()
    except UserError:
        raise
    except Exception as error:  # pickle raises many types for damaged streams
        raise PthFormatError(f"damaged pickle ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else ''})") from None


def _array(tensor: _Tensor) -> np.ndarray:
    """The tensor's elements as a new array, after checking that they lie inside the storage."""
    data, size, stride = tensor.storage.data, tensor.size, tensor.stride
    if data is None:
        raise PthFormatError(f"storage {tensor.storage.key} has no data in the file")
    if len(size) != len(stride) or min((tensor.offset, *size, *stride), default=0) < 0:
        raise PthFormatError(f"tensor of storage {tensor.storage.key} has a bad shape")
    if 0 in size:
        return np.zeros(size, data.dtype)
    last = tensor.offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= data.size:
        raise PthFormatError(f"tensor reaches beyond its storage {tensor.storage.key}")
    view = np.lib.stride_tricks.as_strided(data[tensor.offset:], size,
                                           [s * data.itemsize for s in stride], writeable=False)
    return np.array(view)


def _materialise(tree):
    """`tree` with every _Tensor replaced by its array (dicts, lists and tuples walked)."""
    if isinstance(tree, _Tensor):
        return _array(tree)
    if isinstance(tree, dict):
        return type(tree)((k, _materialise(v)) for k, v in tree.items())
    if isinstance(tree, (list, tuple)):
        return type(tree)(_materialise(v) for v in tree)
    return tree


def _storage_array(storage: _Storage, raw: bytes, byteorder: str) -> np.ndarray:
    dtype = storage.dtype.newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) < storage.numel * dtype.itemsize:
        raise PthFormatError(f"storage {storage.key} is truncated")
    return np.frombuffer(raw, dtype, storage.numel).astype(storage.dtype.newbyteorder("="))


def _read_zip(archive: zipfile.ZipFile):
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise PthFormatError("zip archive without exactly one <dir>/data.pkl (not torch.save)")
    root = pickles[0][:-len("data.pkl")]
    byteorder = "little"
    if root + "byteorder" in archive.namelist():
        byteorder = archive.read(root + "byteorder").decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise PthFormatError(f"unknown byte order {byteorder[:20]!r}")
    storages = {}
    tree = _load_pickle(io.BytesIO(archive.read(pickles[0])), storages)
    for key, storage in storages.items():
        try:
            raw = archive.read(f"{root}data/{key}")
        except KeyError:
            raise PthFormatError(f"storage {key} is missing from the archive") from None
        storage.data = _storage_array(storage, raw, byteorder)
    return _materialise(tree)


def _read_legacy(file):
    storages = {}
    header = [_load_pickle(file, storages) for _ in range(3)]
    if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL:
        raise PthFormatError("not a torch.save file (wrong magic number or protocol)")
    byteorder = "little" if not isinstance(header[2], dict) or header[2].get(
        "little_endian", True) else "big"
    tree = _load_pickle(file, storages)
    keys = _load_pickle(file, storages)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise PthFormatError("the list of storage keys does not match the pickle")
    for key in map(str, keys):
        storage = storages[key]
        count = file.read(8)
        if len(count) != 8:
            raise PthFormatError(f"storage {key} is truncated")
        numel = struct.unpack("<q" if byteorder == "little" else ">q", count)[0]
        if numel != storage.numel:
            raise PthFormatError(f"storage {key} holds {numel} elements, the pickle says "
                                 f"{storage.numel}")
        storage.data = _storage_array(storage, file.read(numel * storage.dtype.itemsize),
                                      byteorder)
    return _materialise(tree)


def read_pth(path):
    """The object `torch.save` wrote to `path`, with tensors as NumPy arrays (torch's dtype;
    bfloat16 as ml_dtypes.bfloat16). Raises UnsafePickleError for a pickle that names a
    global outside ALLOWED_GLOBALS (nothing of it runs), PthFormatError for anything else
    that is not a torch.save file, OSError if the file cannot be read."""
    with open(path, "rb") as file:
        start = file.read(4)
        file.seek(0)
        try:
            if start == b"PK\x03\x04":
                with zipfile.ZipFile(file) as archive:
                    return _read_zip(archive)
            if start[:2] == b"\x80\x02":
                return _read_legacy(file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
            raise PthFormatError(f"damaged zip archive ({error})") from None
        except RecursionError:
            raise PthFormatError("containers nested too deeply") from None
    raise PthFormatError("neither the zip nor the legacy layout of torch.save")
