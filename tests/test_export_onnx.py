"""ONNX export (`jaxrestore export --format onnx`): the ONNX models, run by onnxruntime, give
what `Restorer.restore` gives for float input (max abs diff <= 1e-4) for the committed
DnCNN-tiny (symbolic height and width: one file, any size) and MAGN-tiny (one file per size);
IGNN is refused in one line. Skips without onnxruntime or jax2onnx (an optional install)."""
import json
import pathlib

import numpy as np
import pytest

from jaxrestore.cli import export as export_cli
from jaxrestore.inference import Restorer

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("jax2onnx")
PRETRAINED = pathlib.Path(__file__).resolve().parents[1] / "pretrained"


def _onnx_outputs(path, images):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [session.run(None, {"image": image[None]})[0][0] for image in images]


@pytest.mark.parametrize("name, sizes", [("dncnn_tiny_s25", [(20, 24), (33, 17)]),
                                         ("magn_tiny_s25", [(24, 32)])])
def test_onnx_equals_the_restorer(tmp_path, name, sizes):
    rng = np.random.default_rng(0)
    images = [rng.random((h, w, 1), np.float32) for h, w in sizes]
    restorer = Restorer.from_checkpoint(PRETRAINED / name, bucket=1)
    expected = [np.asarray(restorer.restore([image])[0]) for image in images]
    size_args = [] if name.startswith("dncnn") else ["--size", "24x32"]
    out = tmp_path / "onnx"
    assert export_cli.main(["--checkpoint", str(PRETRAINED / name), "--out", str(out),
                            "--format", "onnx", *size_args]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "onnx"
    files = {"dncnn_tiny_s25": {"restorer.onnx": "('B', 'H', 'W', 1)"},
             "magn_tiny_s25": {"restorer_24x32.onnx": "(1, 24, 32, 1)"}}[name]
    assert manifest["files"] == files
    outputs = _onnx_outputs(out / next(iter(files)), images)
    for output, reference in zip(outputs, expected):
        assert output.shape == reference.shape
        assert np.abs(output - reference).max() <= 1e-4


def test_ignn_is_refused_in_one_line(tmp_path, capsys):
    code = export_cli.main(["--checkpoint", str(PRETRAINED / "ignn_tiny_x2"), "--out",
                            str(tmp_path / "onnx"), "--format", "onnx", "--size", "32x32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "jax2onnx cannot convert model 'ignn'" in err[0], err
