"""The torch-free .pth reader: real torch.save files in both layouts read to the same arrays
(oracle: torch itself, skipped without it); pickles with a payload are refused in one line
and the payload never runs; safetensors and .npz state dicts through the same reader."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from jaxrestore.weights import pth
from jaxrestore.weights.state_dict import (WeightsError, load_state_dict, read_tensors,
                                           save_safetensors)


class Payload:
    """Unpickling this runs `touch <marker>` (what a malicious .pth does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zip_pth(path, obj):
    """torch's zip layout around a pickle of `obj` (no storages needed)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")


def _legacy_pth(path, obj):
    """torch's legacy layout: magic, protocol, sys info, the object, the storage keys."""
    parts = (pth.LEGACY_MAGIC, pth.LEGACY_PROTOCOL, {"protocol_version": 1001,
             "little_endian": True}, obj, [])
    path.write_bytes(b"".join(pickle.dumps(part, protocol=2) for part in parts))


@pytest.mark.parametrize("write", [_zip_pth, _legacy_pth])
def test_payload_is_refused_and_never_runs(tmp_path, write):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pth"
    write(path, {"weight": Payload(marker)})
    with pytest.raises(WeightsError) as caught:
        load_state_dict(path)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert f"{os.system.__module__}.system" in message and "refused" in message, message
    assert not marker.exists()
    # the same payload hidden in a header pickle of the legacy layout, and a global that
    # torch's own reader would take (a storage loader that runs torch code) are refused too
    if write is _legacy_pth:
        path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
        with pytest.raises(pth.UnsafePickleError):
            pth.read_pth(path)
        assert not marker.exists()


def test_globals_outside_the_table_are_refused(tmp_path):
    path = tmp_path / "bytes.pth"
    with zipfile.ZipFile(path, "w") as archive:  # GLOBAL torch.storage _load_from_bytes
        archive.writestr("archive/data.pkl",
                         b"\x80\x02ctorch.storage\n_load_from_bytes\nq\x00.")
    with pytest.raises(pth.UnsafePickleError, match=r"torch\.storage\._load_from_bytes"):
        pth.read_pth(path)


def test_tensor_outside_its_storage_is_refused(tmp_path):
    storage = pth._Storage("0", np.dtype(np.float32), 4, np.arange(4, dtype=np.float32))
    assert pth._array(pth._Tensor(storage, 1, (3,), (1,))).tolist() == [1, 2, 3]
    with pytest.raises(pth.PthFormatError, match="beyond its storage"):
        pth._array(pth._Tensor(storage, 1, (2, 2), (2, 1)))


@pytest.mark.parametrize("zip_layout", [True, False])
def test_torch_saved_state_dict_reads_equal(tmp_path, zip_layout):
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    state = {"conv.weight": torch.randn(4, 3, 3, 3, generator=generator),
             "conv.bias": torch.randn(4, generator=generator).double(),
             "half": torch.randn(2, 5, generator=generator).half(),
             "bn.num_batches_tracked": torch.tensor(7),
             "strided": torch.randn(6, 4, generator=generator)[1:5:2].t()}  # view, offset
    path = tmp_path / "state.pth"
    torch.save({"net_state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3},
               path, _use_new_zipfile_serialization=zip_layout)
    raw = read_tensors(path)["net_state_dict"]
    for key, tensor in state.items():
        np.testing.assert_array_equal(raw["module." + key], tensor.numpy())
        assert raw["module." + key].dtype == tensor.numpy().dtype
    loaded = load_state_dict(path)
    assert sorted(loaded) == ["conv.bias", "conv.weight", "half", "strided"]
    assert all(v.dtype == np.float32 for v in loaded.values())


def test_safetensors_and_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    state = {"a.weight": rng.random((2, 3), np.float32), "b": rng.random(4).astype(np.float16)}
    save_safetensors(tmp_path / "w.safetensors", state, {"sha256": "ab", "n": 2})
    np.savez(tmp_path / "w.npz", **state)
    for name in ("w.safetensors", "w.npz"):
        loaded = load_state_dict(tmp_path / name)
        assert loaded.keys() == state.keys()
        np.testing.assert_array_equal(loaded["b"], state["b"].astype(np.float32))
    (tmp_path / "junk.pth").write_bytes(b"hello world")
    with pytest.raises(WeightsError, match="not a .pth"):
        load_state_dict(tmp_path / "junk.pth")
