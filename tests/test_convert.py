"""PyTorch → jaxrestore checkpoint conversion: key mapping, wrappers, checks, CLI errors.

The parity of converted weights with the original's outputs is in tests/test_ignn.py; here
synthetic state_dicts (a small IGNN, names and OIHW layouts of the original) exercise the checks.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

from jaxrestore import convert

N_FEATS, N_BLOCKS = 8, 2


def torch_state_dict(n_feats=N_FEATS, n_blocks=N_BLOCKS, scale=2, seed=0) -> dict:
    """The original IGNN's state_dict names and shapes, written out from models/IGNN.py."""
    rng = np.random.default_rng(seed)
    sd = {}

    def conv(name, cout, cin, k):
        sd[f"{name}.weight"] = rng.normal(size=(cout, cin, k, k)).astype(np.float32)
        sd[f"{name}.bias"] = rng.normal(size=(cout,)).astype(np.float32)

    n, gs = n_feats, (2 if scale == 4 else scale)
    conv("sub_mean", 3, 3, 1)
    conv("add_mean", 3, 3, 1)
    for prefix in ("vggnet", "graph.embedcnn"):
        sd.update({f"{prefix}.{k}": v for k, v in (
            ("sub_mean.weight", np.eye(3, dtype=np.float32)[:, :, None, None]),
            ("sub_mean.bias", np.ones(3, np.float32)),
            ("model.0.weight", np.full((64, 3, 3, 3), 0.5, np.float32)),
            ("model.0.bias", np.zeros(64, np.float32)),
            ("model.2.weight", np.full((64, 64, 3, 3), 0.25, np.float32)),
            ("model.2.bias", np.zeros(64, np.float32)))})
    conv("head.0", n, 3, 3)
    for i in range(n_blocks // 2):
        conv(f"body1.{i}.body.0", n, n, 3)
        conv(f"body1.{i}.body.2", n, n, 3)
    for i in range(n_blocks - n_blocks // 2):
        conv(f"body2.{i}.body.0", n, n, 3)
        conv(f"body2.{i}.body.2", n, n, 3)
    conv(f"body2.{n_blocks - n_blocks // 2}.0", n, n, 3)
    conv("gcn.knn_downsample.0.0", n, n, 5)
    conv("gcn.knn_downsample.1.0", n, n, 3)
    conv("gcn.knn_downsample.2.0", n, n, 3)
    for net in ("weightnet_lr", "weightnet_hr"):
        conv(f"gcn.{net}.0.0", 64, 64, 1)
        conv(f"gcn.{net}.1.body.0", 64, 64, 1)
        conv(f"gcn.{net}.1.body.2", 64, 64, 1)
        conv(f"gcn.{net}.2.0", 1, 64, 1)
    conv("fuse_b.0.0", n, 2 * n, 3)
    conv("fuse_b.1.0", n, n, 3)
    conv("upsample.0", gs * gs * n, n, 3)
    conv("fuse_up.0.0", n, 2 * n, 3)
    conv("fuse_up.1.0", n, n, 3)
    if scale == 4:
        conv("tail.0.0", 4 * n, n, 3)
        conv("tail.1.0", 3, n, 3)
    else:
        conv("tail.0.0", 3, n, 3)
    return sd


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_every_tensor_lands_transposed(scale):
    sd = torch_state_dict(scale=scale)
    config, variables = convert.convert_ignn(sd)
    m = config.model
    assert (m.scale, m.n_feats, m.n_resblocks, m.embedding, m.use_graph) == (
        scale, N_FEATS, N_BLOCKS, "vgg", True)
    assert (config.task.name, config.task.scale) == ("sr", scale)
    p, c = variables["params"], variables["constants"]
    # OIHW → HWIO, checked on hand-picked tensors of different kinds.
    np.testing.assert_array_equal(p["head"]["kernel"], sd["head.0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(p["body2_conv"]["bias"], sd["body2.1.0.bias"])
    np.testing.assert_array_equal(p["body1_0"]["conv1"]["kernel"][1, 2, 3, 4],
                                  sd["body1.0.body.2.weight"][4, 3, 1, 2])
    np.testing.assert_array_equal(p["gcn"]["weightnet_hr"]["res"]["conv0"]["kernel"][0, 0],
                                  sd["gcn.weightnet_hr.1.body.0.weight"][:, :, 0, 0].T)
    np.testing.assert_array_equal(p["gcn"]["knn_down0"]["kernel"][4, 0],
                                  sd["gcn.knn_downsample.0.0.weight"][:, :, 4, 0].T)
    tail = "tail.1.0.weight" if scale == 4 else "tail.0.0.weight"
    np.testing.assert_array_equal(p["tail"]["kernel"], sd[tail].transpose(2, 3, 1, 0))
    if scale == 4:
        np.testing.assert_array_equal(p["tail_up"]["conv0"]["bias"], sd["tail.0.0.bias"])
    np.testing.assert_array_equal(c["embedding"]["conv1_2"]["kernel"][0, 0, 0, 0], 0.25)
    np.testing.assert_array_equal(c["add_mean"]["bias"], sd["add_mean.bias"])
    n_tensors = len(sd) - 6                        # the embedding's second copy is dropped
    assert sum(len(leaf) for leaf in _leaf_dicts(variables)) == n_tensors


def _leaf_dicts(tree):
    if all(not isinstance(v, dict) for v in tree.values()):
        yield tree
    else:
        for v in tree.values():
            yield from _leaf_dicts(v)


def test_wrapped_and_prefixed_npz(tmp_path):
    sd = torch_state_dict()
    path = tmp_path / "wrapped.npz"
    np.savez(path, **{"module." + k: v for k, v in sd.items()})
    _, a = convert.convert_ignn(convert.load_state_dict(path))
    _, b = convert.convert_ignn(sd)
    np.testing.assert_array_equal(a["params"]["fuse_up1"]["kernel"],
                                  b["params"]["fuse_up1"]["kernel"])


def test_pth_wrapper(tmp_path):
    torch = pytest.importorskip("torch")
    sd = torch_state_dict()
    path = tmp_path / "IGNN_x2.pth"
    torch.save({"net_state_dict": {"module." + k: torch.from_numpy(v) for k, v in sd.items()},
                "epoch_idx": 3}, path)
    loaded = convert.load_state_dict(path)
    assert loaded.keys() == sd.keys()
    np.testing.assert_array_equal(loaded["upsample.0.weight"], sd["upsample.0.weight"])


def test_single_embedding_copy_is_enough():
    sd = {k: v for k, v in torch_state_dict().items() if not k.startswith("vggnet.")}
    _, variables = convert.convert_ignn(sd)
    assert variables["constants"]["embedding"]["conv1_1"]["kernel"].shape == (3, 3, 3, 64)


def test_missing_key_is_named():
    sd = torch_state_dict()
    del sd["body1.0.body.2.bias"]
    with pytest.raises(convert.ConversionError, match=r"missing keys.*body1\.0\.body\.2\.bias"):
        convert.convert_ignn(sd)


def test_extra_key_is_named():
    sd = torch_state_dict()
    sd["gcn.extra_layer.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(convert.ConversionError, match=r"unused keys.*gcn\.extra_layer\.weight"):
        convert.convert_ignn(sd)


def test_wrong_shape_is_named():
    sd = torch_state_dict()
    sd["fuse_b.1.0.weight"] = sd["fuse_b.1.0.weight"][:, :, :1, :1]
    with pytest.raises(convert.ConversionError,
                       match=re.escape("fuse_b.1.0.weight (8, 8, 1, 1) (model needs (8, 8, 3, 3))")):
        convert.convert_ignn(sd)


def test_differing_embedding_copies_are_refused():
    sd = torch_state_dict()
    sd["graph.embedcnn.model.2.bias"] = sd["graph.embedcnn.model.2.bias"] + 1
    with pytest.raises(convert.ConversionError, match=r"differ at: model\.2\.bias"):
        convert.convert_ignn(sd)


def test_config_must_match_weights():
    from jaxrestore.models.ignn import model_config
    import ml_collections
    config = ml_collections.ConfigDict({"model": model_config(3, n_resblocks=N_BLOCKS, n_feats=N_FEATS,
                                                                  window=8)})
    with pytest.raises(convert.ConversionError, match=r"scale=3 \(weights: 2\)"):
        convert.convert_ignn(torch_state_dict(), config)
    config.model.scale = 2
    out, _ = convert.convert_ignn(torch_state_dict(), config)
    assert out.model.window == 8


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "jaxrestore.cli.main", "convert",
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    """One real process (exit status, no traceback on stderr), the other mistakes through the
    same main() in this process: 2 for a wrong command line, 1 for weights that do not convert."""
    from jaxrestore.cli import convert as convert_cli
    missing = _cli("ignn", tmp_path / "nope.npz", tmp_path / "out")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "not found" in missing.stderr

    def in_process(*args):
        code = convert_cli.main(list(map(str, args)))
        return code, capsys.readouterr().err

    corrupt_path = tmp_path / "corrupt.npz"
    corrupt_path.write_bytes(b"not a zip file at all")
    sd = torch_state_dict()
    del sd["head.0.bias"]
    bad_path = tmp_path / "bad.npz"
    np.savez(bad_path, **sd)
    for path, needle in ((corrupt_path, "not a .pth"), (bad_path, "head.0.bias")):
        code, err = in_process("ignn", path, tmp_path / "out")
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    for args, needle in (((bad_path, tmp_path / "taken"), "already exists"),
                         (("edsr", bad_path, tmp_path / "o"), "unknown architecture")):
        code, err = in_process(*args)
        assert code == 2 and needle in err, err


def test_cli_writes_a_loadable_checkpoint(tmp_path):
    from jaxrestore.checkpoints import load_for_inference
    sd = torch_state_dict(scale=3)
    np.savez(tmp_path / "x3.npz", **sd)
    result = _cli(tmp_path / "x3.npz", tmp_path / "ckpt")  # detected
    assert result.returncode == 0, result.stderr
    config, variables, _ = load_for_inference(tmp_path / "ckpt")
    assert config.model.name == "ignn" and config.model.scale == 3
    assert config.task.scale == 3 and config.source.architecture == "ignn"
    np.testing.assert_array_equal(variables["params"]["upsample"]["conv0"]["kernel"],
                                  sd["upsample.0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(variables["constants"]["sub_mean"]["bias"], sd["sub_mean.bias"])
