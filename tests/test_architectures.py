"""Architecture detection from keys and shapes: one synthetic state dict per recognised layout,
a one-line refusal for an unknown one; converted DnCNNs (merged or with BN) compute what the
PyTorch network computes, checked against that network written out with lax convolutions on
the untouched PyTorch tensors (OIHW, BN applied as BN, output = x − net(x))."""
import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import architectures
from jaxrestore.convert import ConversionError
from jaxrestore.models import build_model
from test_convert import torch_state_dict as ignn_state_dict


def kair_state_dict(channels=1, features=4, depth=4, seed=0) -> dict:
    """KAIR's merged DnCNN: model.{2i} convs with bias (ReLUs between hold no tensors)."""
    rng = np.random.default_rng(seed)
    sizes = [channels] + [features] * (depth - 1) + [channels]
    state = {}
    for i in range(depth):
        state[f"model.{2 * i}.weight"] = rng.normal(0, 0.3, (sizes[i + 1], sizes[i], 3, 3))
        state[f"model.{2 * i}.bias"] = rng.normal(0, 0.1, sizes[i + 1])
    return {k: v.astype(np.float32) for k, v in state.items()}


def bn_state_dict(channels=1, features=4, depth=4, seed=0) -> dict:
    """The common PyTorch port's DnCNN: dncnn.<i> bias-free convs, BN after the middle ones."""
    rng = np.random.default_rng(seed)
    state, index = {}, 0
    for i in range(depth):
        cin = channels if i == 0 else features
        cout = channels if i == depth - 1 else features
        state[f"dncnn.{index}.weight"] = rng.normal(0, 0.3, (cout, cin, 3, 3))
        index += 1
        if 0 < i < depth - 1:
            state.update({f"dncnn.{index}.weight": rng.uniform(0.5, 1.5, cout),
                          f"dncnn.{index}.bias": rng.normal(0, 0.1, cout),
                          f"dncnn.{index}.running_mean": rng.normal(0, 0.1, cout),
                          f"dncnn.{index}.running_var": rng.uniform(0.5, 2.0, cout)})
            index += 1
        index += i < depth - 1  # the ReLU
    return {k: np.asarray(v, np.float32) for k, v in state.items()}


def torch_dncnn(state: dict, x: np.ndarray, eps: float) -> np.ndarray:
    """The PyTorch network of either layout, run layer by layer in NCHW/OIHW."""
    children = sorted({int(k.split(".")[1]) for k in state})
    prefix = next(iter(state)).split(".")[0]
    y = jnp.asarray(x.transpose(0, 3, 1, 2))
    convs = [i for i in children if state[f"{prefix}.{i}.weight"].ndim == 4]
    for i in children:
        p = {k.split(".")[2]: v for k, v in state.items() if k.startswith(f"{prefix}.{i}.")}
        if "running_mean" in p:
            shape = (1, -1, 1, 1)
            y = ((y - p["running_mean"].reshape(shape)) / np.sqrt(p["running_var"] + eps).reshape(
                shape)) * p["weight"].reshape(shape) + p["bias"].reshape(shape)
        else:
            y = jax.lax.conv_general_dilated(y, p["weight"], (1, 1), ((1, 1), (1, 1)),
                                             precision="highest")
            if "bias" in p:
                y = y + p["bias"].reshape(1, -1, 1, 1)
        following = children[children.index(i) + 1] if i != children[-1] else None
        if following is not None and following in convs:  # ReLU before the next conv
            y = jax.nn.relu(y)
    return x - np.asarray(y).transpose(0, 2, 3, 1)


@pytest.mark.parametrize("make, name, channels", [
    (kair_state_dict, "dncnn", 1), (kair_state_dict, "dncnn", 3), (bn_state_dict, "dncnn-bn", 1)])
def test_dncnn_layouts_are_detected_and_compute_the_torch_network(make, name, channels):
    state = make(channels=channels)
    architecture = architectures.detect(state)
    assert architecture.name == name
    config, variables = architecture.convert(state, architectures.Options(sigma=25, bn_eps=1e-4))
    assert (config.model.channels, config.model.n_feats, config.model.depth) == (channels, 4, 4)
    assert (config.task.name, config.task.sigma) == ("denoise", 25.0)
    x = np.random.default_rng(1).random((2, 9, 7, channels), np.float32)
    ours = build_model(config.model).apply(variables, x)
    np.testing.assert_allclose(ours, torch_dncnn(state, x, eps=1e-4), atol=1e-5)


def test_ignn_is_detected_with_its_scale():
    for scale in (2, 4):
        architecture = architectures.detect(ignn_state_dict(scale=scale))
        config, _ = architecture.convert(ignn_state_dict(scale=scale), architectures.Options())
        assert architecture.name == "ignn" and config.model.scale == scale


def test_near_misses_are_not_dncnn():
    state = kair_state_dict()
    assert architectures.detect(bn_state_dict()).name != "dncnn"  # BN is not KAIR's merged
    for broken in (
        {**state, "model.6.weight": state["model.6.weight"][:, :, :1, :1]},  # 1x1 last conv
        {k: v for k, v in state.items() if k != "model.2.bias"},  # a conv without bias
        {**state, "head.weight": state["model.0.weight"]},  # a second prefix
        kair_state_dict(channels=2),  # neither grey nor colour
    ):
        assert not architectures.BY_NAME["dncnn"].detect(broken)
        assert not architectures.BY_NAME["dncnn-bn"].detect(broken)


def test_unknown_layout_is_refused_in_one_line():
    state = {"encoder.conv.weight": np.zeros((8, 3, 3, 3), np.float32),
             "encoder.conv.bias": np.zeros(8, np.float32)}
    with pytest.raises(ConversionError) as caught:
        architectures.detect(state)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert "2 tensors: encoder.conv.weight (8, 3, 3, 3)" in message
    assert all(f"{a.name} needs" in message for a in architectures.ARCHITECTURES)


def test_convert_file_records_its_source(tmp_path):
    path = tmp_path / "dncnn_gray_s15.npz"
    np.savez(path, **{"module." + k: v for k, v in kair_state_dict().items()})
    config, _, architecture = architectures.convert_file(path, licence="MIT text")
    assert architecture.name == "dncnn" and config.task.sigma == 15.0  # from the file name
    assert config.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (config.source.file, config.source.licence) == (path.name, "MIT text")
    np.savez(tmp_path / "dncnn_gray_blind.npz", **kair_state_dict())
    with pytest.raises(ConversionError, match="give sigma"):
        architectures.convert_file(tmp_path / "dncnn_gray_blind.npz")


def test_cli_writes_safetensors_and_a_recorded_checkpoint(tmp_path, capsys):
    """`convert FILE OUT.safetensors` keeps the tensors as read (with the source's sha256);
    `convert FILE DIR --licence` stores the licence text in the checkpoint's config."""
    from safetensors import safe_open

    from jaxrestore.checkpoints import load_for_inference
    from jaxrestore.cli import convert as convert_cli
    state = kair_state_dict()
    source = tmp_path / "dncnn_25.npz"
    np.savez(source, **{"module." + k: v for k, v in state.items()})
    (tmp_path / "LICENSE").write_text("MIT License\nCopyright (c) 2019 Kai Zhang\n")
    assert convert_cli.main([str(source), str(tmp_path / "w.safetensors")]) == 0
    with safe_open(tmp_path / "w.safetensors", "numpy") as file:
        assert file.metadata()["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        np.testing.assert_array_equal(file.get_tensor("model.2.weight"), state["model.2.weight"])
    assert convert_cli.main([str(tmp_path / "w.safetensors"), str(tmp_path / "ckpt"),
                             "--sigma", "15", "--licence", str(tmp_path / "LICENSE")]) == 0
    assert "KAIR DnCNN" in capsys.readouterr().out
    config, _, _ = load_for_inference(tmp_path / "ckpt")
    assert config.source.licence.startswith("MIT License") and config.task.sigma == 15.0
