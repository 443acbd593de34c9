"""jax.export artifacts of a checkpoint restore images in a fresh process that imports jax only,
exactly as the Restorer does; lowering for GPU and TPU works on this CPU machine."""
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxrestore import checkpoints
from jaxrestore.cli import export as export_cli
from jaxrestore.configs.common import base_config
from jaxrestore.inference import Restorer
from jaxrestore.models import build_model
from jaxrestore.models.ignn import model_config as ignn_model_config

# Loads every artifact of a folder with jax alone, restores the inputs saved beside it and
# saves the outputs; fails if anything imported jaxrestore.
RUNNER = r"""
import json, pathlib, sys
import jax, numpy as np
folder = pathlib.Path(sys.argv[1])
for name, inputs in json.loads((folder / "cases.json").read_text()).items():
    with open(folder / name, "rb") as f:
        restore = jax.export.deserialize(f.read())
    for i, path in enumerate(inputs):
        np.save(folder / f"out_{name}_{i}.npy", np.asarray(restore.call(np.load(path))))
assert not any(m.startswith("jaxrestore") for m in sys.modules), "jaxrestore was imported"
print("ok")
"""


def _checkpoint(tmp_path, config, channels):
    x = jnp.zeros((1, 32, 32, channels))
    variables = jax.jit(build_model(config.model).init)(jax.random.key(0, impl="unsafe_rbg"), x)
    checkpoints.save_for_inference(tmp_path / "ckpt", config, variables)
    return tmp_path / "ckpt"


def _dncnn(tmp_path):
    config = base_config()
    config.model.name, config.model.pixel_range = "dncnn", 1.0
    config.model.update(dict(channels=1, n_feats=4, depth=3, batch_norm=False))
    config.task.update(dict(name="denoise", channels=1, sigma=25.0))
    return _checkpoint(tmp_path, config, 1)


def _ignn(tmp_path):
    config = base_config()
    config.model = ignn_model_config(scale=2, n_resblocks=2, n_feats=8, embedding="pixels",
                                     window=8)
    return _checkpoint(tmp_path, config, 3)


def _round_trip(folder, cases: dict) -> dict:
    (folder / "cases.json").write_text(json.dumps({k: [str(p) for p in v]
                                                   for k, v in cases.items()}))
    result = subprocess.run([sys.executable, "-c", RUNNER, str(folder)], capture_output=True,
                            text=True, timeout=300, cwd=folder)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
    return {name: [np.load(folder / f"out_{name}_{i}.npy") for i in range(len(v))]
            for name, v in cases.items()}


def test_symbolic_artifact_restores_any_size_in_a_fresh_process(tmp_path):
    ckpt = _dncnn(tmp_path)
    out = tmp_path / "exported"
    assert export_cli.main(["--checkpoint", str(ckpt), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["files"]) == ["restorer.jaxexport"]
    rng = np.random.default_rng(0)
    images = [rng.random((1, h, w, 1), np.float32) for h, w in ((20, 24), (33, 17))]
    paths = [tmp_path / f"in{i}.npy" for i in range(2)]
    for path, image in zip(paths, images):
        np.save(path, image)
    outputs = _round_trip(out, {"restorer.jaxexport": paths})["restorer.jaxexport"]
    restorer = Restorer.from_checkpoint(ckpt, bucket=1)
    for image, output in zip(images, outputs):
        np.testing.assert_allclose(output[0], restorer.restore([image[0]])[0], atol=1e-6)


def test_fixed_size_artifacts_for_ignn_and_other_platforms(tmp_path, capsys):
    ckpt = _ignn(tmp_path)
    out = tmp_path / "exported"
    assert export_cli.main(["--checkpoint", str(ckpt), "--out", str(out), "--size", "32x40",
                        "--platforms", "cpu,cuda,tpu"]) == 0
    assert "for cpu, cuda, tpu" in capsys.readouterr().out
    name = "restorer_32x40.jaxexport"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"] == {name: "(1, 32, 40, 3)"}
    assert manifest["conv_algorithm"] == "direct"  # not CPU-only: XLA's convolutions
    image = np.random.default_rng(1).random((1, 32, 40, 3), np.float32)
    np.save(tmp_path / "in.npy", image)
    output = _round_trip(out, {name: [tmp_path / "in.npy"]})[name][0]
    expected = Restorer.from_checkpoint(ckpt, bucket=1).restore([image[0]])[0]
    assert output.shape == (1, 64, 80, 3)
    np.testing.assert_allclose(output[0], expected, atol=1e-5)


def test_export_mistakes_are_one_line(tmp_path, capsys):
    ckpt = _ignn(tmp_path)
    cases = [
        (["--out", str(tmp_path / "a")], "needs fixed input sizes"),
        (["--out", str(tmp_path / "b"), "--size", "4x4"], "cannot export for 4x4"),
        (["--out", str(tmp_path / "c"), "--size", "32x32", "--platforms", "gpu"],
         "unknown platform"),
    ]
    for argv, message in cases:
        assert export_cli.main(["--checkpoint", str(ckpt), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_a_missing_checkpoint_exits_as_in_eval(tmp_path, capsys):
    """One exit-code rule for every command: a checkpoint path that holds none is a usage
    mistake (2) in export as in eval, not a runtime failure (1)."""
    from jaxrestore.cli import eval as eval_cli
    missing = str(tmp_path / "no_checkpoint")
    export_code = export_cli.main(["--checkpoint", missing, "--out", str(tmp_path / "o")])
    eval_code = eval_cli.main(["restore", "--checkpoint", missing, "--out", str(tmp_path / "r"),
                               str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert export_code == eval_code == 2 and len(err) == 2, err
