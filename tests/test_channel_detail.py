"""experiments/channel_detail.py: the detail measure of docs/results.md's demosaicing reading
(oracles: a checkerboard's Laplacian by hand, NumPy's corrcoef, channels built equal or
independent)."""
import importlib.util
import json
import pathlib

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("channel_detail",
                                               REPO / "experiments" / "channel_detail.py")
channel_detail = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(channel_detail)


def test_checkerboard_detail_is_hand_computed():
    # x = ±1 alternating: every interior pixel's 4·x minus four neighbours of the other sign
    # is ±8, so the detail energy is 64 in each channel.
    board = (np.indices((6, 7)).sum(0) % 2 * 2 - 1)[..., None] * np.ones(3)
    lap = channel_detail.laplacian(board)
    assert lap.shape == (4, 5, 3)
    np.testing.assert_array_equal(np.abs(lap), 8.0)
    np.testing.assert_allclose(channel_detail.channel_detail(board)["energy"], [64.0] * 3)


def test_detail_correlation_is_pearsons_of_the_laplacians():
    rng = np.random.default_rng(0)
    grey = rng.uniform(0, 255, (64, 64, 1))
    same = channel_detail.channel_detail(np.repeat(grey, 3, axis=2))["corr"]
    np.testing.assert_allclose(same, [1.0, 1.0])
    image = rng.uniform(0, 255, (64, 64, 3))
    lap = channel_detail.laplacian(image).reshape(-1, 3)
    expected = [np.corrcoef(lap[:, 0], lap[:, 1])[0, 1], np.corrcoef(lap[:, 2], lap[:, 1])[0, 1]]
    corr = channel_detail.channel_detail(image)["corr"]
    np.testing.assert_allclose(corr, expected, rtol=1e-12)
    assert np.abs(corr).max() < 0.1                  # independent channels: ~0


def test_cli_pairs_images_by_name_and_ends_with_the_means(tmp_path, capsys):
    rng = np.random.default_rng(1)
    truth, restored = tmp_path / "truth", tmp_path / "restored"
    truth.mkdir(), restored.mkdir()
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(truth / f"{name}.png")
    grey = rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)
    Image.fromarray(np.repeat(grey, 3, axis=2)).save(restored / "a.png")   # no namesake: c
    Image.fromarray(np.repeat(grey, 3, axis=2)).save(restored / "c.png")
    assert channel_detail.main(["--restored", str(restored), "--data", str(truth)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["image"] for row in rows] == ["a", "mean"]
    assert rows[0]["detail_corr_restored"] == [1.0, 1.0]
    assert rows[1]["detail_truth"] == rows[0]["detail_truth"]
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.repeat(grey, 3, axis=2)).save(other / "z.png")
    assert channel_detail.main(["--restored", str(restored), "--data", str(other)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
