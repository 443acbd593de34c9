"""KAIR's released DnCNN (σ 25, ../shared/weights, MIT) through our protocol: converted in a
process where torch cannot be imported, then compared with KAIR's network rebuilt in PyTorch
(written here from its published layout: 17 3×3 convs with bias, ReLU between, output = input −
network(input)) on noisy crops of Set12. Skips without ../shared or torch."""
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxrestore.checkpoints import load_for_inference
from jaxrestore.data.io import read_image
from jaxrestore.models import build_model

HIDE_TORCH = "import sys; sys.modules['torch'] = None; from jaxrestore.cli.main import main; " \
             "sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def kair_weights(shared_dir):
    path = shared_dir / "weights" / "kair_dncnn_25" / "dncnn_25.pth"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def kair_network(torch, state: dict):
    """KAIR's DnCNN (act_mode 'R', BN merged) as a plain nn.Sequential; returns x ↦ x − net(x)."""
    layers = [torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.ReLU()]
    for _ in range(15):
        layers += [torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(64, 1, 3, padding=1))
    network = torch.nn.Sequential(*layers)
    network.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    return lambda x: x - network.eval()(x)


def test_converted_without_torch_equals_kair_in_torch(kair_weights, shared_data, tmp_path):
    out = tmp_path / "dncnn_25"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", HIDE_TORCH, "convert", str(kair_weights),
                             str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and "KAIR DnCNN" in result.stdout, result.stderr
    torch = pytest.importorskip("torch")
    config, variables, _ = load_for_inference(out)
    assert (config.model.depth, config.model.n_feats, config.task.sigma) == (17, 64, 25.0)

    rng = np.random.default_rng(0)
    crops = [read_image(shared_data / "Set12" / name, channels=1)[40:72, 60:100]
             for name in ("01.png", "08.png")]
    noisy = np.stack(crops).astype(np.float32) / 255 + rng.normal(0, 25 / 255, (2, 32, 40, 1))
    noisy = noisy.astype(np.float32)
    ours = np.asarray(build_model(config.model).apply(variables, noisy))
    with torch.no_grad():
        state = torch.load(kair_weights, map_location="cpu", weights_only=True)
        theirs = kair_network(torch, state)(torch.from_numpy(noisy.transpose(0, 3, 1, 2)))
    theirs = theirs.numpy().transpose(0, 2, 3, 1)
    assert np.abs(ours - noisy).mean() > 0.05  # the network does denoise
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
