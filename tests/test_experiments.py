"""experiments/ and pretrained/: the BM3D baseline script scores the protocol's noisy images, and
the committed tiny checkpoints load, compute what they computed before the model fields were
renamed, and restore images better than the protocol's baseline (denoisers: the noisy input;
SR models: bicubic); experiments/tables.py scores only finished
runs and collects mean ± std over seeds."""
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import skimage.data

from jaxrestore import checkpoints, metrics, protocol, tasks
from jaxrestore.inference import Restorer
from jaxrestore.models import apply_unit_range, build_model

REPO = pathlib.Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained"


def _gray_crop(size: int = 64) -> np.ndarray:
    """A natural grey test image (scikit-image's bundled camera), (size, size, 1) uint8."""
    return skimage.data.camera()[100:100 + size, 200:200 + size, None]


def test_bm3d_script_scores_the_protocols_noisy_image(tmp_path):
    pytest.importorskip("bm3d")
    from PIL import Image

    # a flat mid-grey image: noise is then almost never clamped, so the noisy input's PSNR is
    # the noise's own, 20 log10(255 / 25) = 20.17 dB (rounding to uint8 adds 1/12 grey levels²)
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(tmp_path / "flat.png")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(REPO / "experiments" / "bm3d_baseline.py"),
                             "--data", str(tmp_path), "--sigma", "25", "--out", str(out),
                             "--no-progress"], capture_output=True, text=True, check=True)
    assert "BM3D" in result.stdout
    means = json.loads((out / "results.json").read_text())["mean"]
    expected_noisy = 10 * math.log10(255**2 / (25**2 + 1 / 12))
    assert abs(means["baseline"]["psnr"] - expected_noisy) < 0.5
    assert means["model"]["psnr"] > means["baseline"]["psnr"] + 10  # a flat image is easy


def test_bm3d_script_missing_folder_is_one_line_error():
    result = subprocess.run([sys.executable, str(REPO / "experiments" / "bm3d_baseline.py"),
                             "--data", "/nonexistent/folder"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "error" in result.stderr


@pytest.mark.parametrize("name", ["dncnn_tiny_s25", "magn_tiny_s25"])
def test_pretrained_denoisers_beat_the_noisy_input(name):
    restorer = Restorer.from_checkpoint(PRETRAINED / name)
    example = protocol.degrade(_gray_crop(), tasks.Denoise(channels=1, sigma=25.0))
    restored = restorer.restore([example.input])[0]
    noisy = metrics.psnr(example.baseline, example.target)
    assert metrics.psnr(restored, example.target) > noisy + 5


@pytest.mark.parametrize("name", ["edsr_tiny_x2", "ignn_tiny_x2"])
def test_pretrained_sr_models_restore_a_photo(name):
    restorer = Restorer.from_checkpoint(PRETRAINED / name)
    hr = skimage.data.astronaut()[180:244, 200:264]
    example = protocol.degrade(hr, tasks.SR(scale=2))
    restored = restorer.restore([example.input])[0]
    assert restored.shape == hr.shape
    # measured on this crop: bicubic 34.50 dB, EDSR-tiny 35.87, IGNN-tiny 36.01 (1500 steps,
    # docs/results.md); the same models freshly initialised give 9.2-9.3 dB
    bicubic = metrics.psnr(example.baseline, example.target, crop_border=2, y_channel=True)
    assert metrics.psnr(restored, example.target, crop_border=2, y_channel=True) > bicubic + 0.5


# Outputs [::24, ::24, 0] of the code before IGNN's k / patch_size and DnCNN's features were
# renamed (main at 57c7708): the checkpoints still hold the old names and must compute the same.
STORED_OUTPUTS = {"dncnn_tiny_s25": [[0.308934, 0.259363], [0.070074, 0.172572]],
                  "ignn_tiny_x2": [[0.799593, 0.660675, 0.309322], [0.079489, 0.104162, 0.054536],
                                   [0.043724, 0.045332, 0.019459]]}


@pytest.mark.parametrize("name", sorted(STORED_OUTPUTS))
def test_pretrained_models_give_their_stored_outputs(name):
    config, variables, _ = checkpoints.load_for_inference(PRETRAINED / name)
    if name == "ignn_tiny_x2":
        x, scale = skimage.data.astronaut()[180:212, 200:232].astype(np.float32)[None] / 255, 2
    else:
        clean = skimage.data.camera()[None, 100:148, 200:248, None].astype(np.float32) / 255
        x, scale = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 1
    out = apply_unit_range(build_model(config.model, scale), variables, x.astype(np.float32),
                           config.model.pixel_range)
    np.testing.assert_allclose(np.asarray(out)[0, ::24, ::24, 0], STORED_OUTPUTS[name], atol=1e-5)


def _tables_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("tables", REPO / "experiments" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_score_only_finished_runs_and_collect_mean_and_std(tmp_path):
    """Table A from hand-made run folders: two finished EDSR seeds (scored) and an IGNN seed
    still training (not scored; its row says so)."""
    tables = _tables_module()
    table = tables.TABLES["table_a"]
    steps = tables.total_steps(table)
    for run, psnr, trained in (("edsr_tiny_x2_s0", 35.0, steps), ("edsr_tiny_x2_s1", 35.5, steps),
                               ("ignn_tiny_x2_s0", None, 400)):
        (tmp_path / run / "checkpoints" / str(trained)).mkdir(parents=True)
        lines = [{"step": s, "train/loss": 0.1, "train/seconds_per_step": t}
                 for s, t in ((100, 9.0), (200, 0.5), (300, 0.7), (400, 0.6))]
        (tmp_path / run / "metrics.jsonl").write_text("\n".join(map(json.dumps, lines)))
        for column in ("Set5", "Set14", "BSD100") if psnr else ():
            out = tmp_path / "eval" / run / column
            out.mkdir(parents=True)
            (out / "results.json").write_text(json.dumps({"mean": {
                "baseline": {"psnr": 33.68, "ssim": 0.93},
                "model": {"psnr": psnr, "ssim": 0.94}}}))
    todo = tables.score_commands(table, tmp_path, "/data")
    assert todo == []  # the finished runs are scored already, the running one is not due
    (tmp_path / "eval" / "edsr_tiny_x2_s1" / "Set5" / "results.json").unlink()
    assert [str(out.relative_to(tmp_path)) for out, _ in
            tables.score_commands(table, tmp_path, "/data")] == ["eval/edsr_tiny_x2_s1/Set5"]
    text = tables.collect(table, tmp_path)
    # mean ± sample std of 35.0 and 35.5 (Set14, BSD100): 35.25 ± 0.35; Set5 has one seed left
    edsr = "| EDSR-tiny x2 (use_graph=False) | 2 of 3 | 35.00 | 35.25 ± 0.35 | 35.25 ± 0.35 |"
    assert edsr in text
    assert "| IGNN-tiny x2 | 0 of 3 | not run |" in text
    # steps trained, median seconds per step after the first (compiling) window
    assert "| ignn_tiny_x2_s0 | - | - | - | 400 of 3000 | - | 0.600 |" in text


def test_tasks_table_gives_each_task_its_own_baseline_row(tmp_path):
    """Methods of different tasks: each baseline row is the one of its task (demosaicing's
    bilinear baseline is not the colour denoiser's noisy input)."""
    tables = _tables_module()
    table = tables.TABLES["tasks"]
    for run, column, baseline, model in (
            ("magn_tiny_color_s25_s0", "McMaster", 20.88, 29.92),
            ("magn_tiny_demosaic_s0", "McMaster", 32.32, 31.84)):
        out = tmp_path / "eval" / run / column
        out.mkdir(parents=True)
        (out / "results.json").write_text(json.dumps({"mean": {
            "baseline": {"psnr": baseline, "ssim": 0.5}, "model": {"psnr": model, "ssim": 0.6}}}))
    text = tables.collect(table, tmp_path)
    assert "| noisy input, colour sigma 25 | - | 20.88 |" in text
    assert "| bilinear demosaic | - | 32.32 |" in text
    assert "| MAGN-tiny demosaicing | 1 | 31.84 |" in text


def test_the_baseline_row_comes_from_whichever_method_is_scored(tmp_path):
    """Table A with only IGNN-tiny scored (the first method, EDSR-tiny, not yet): the bicubic
    row still shows the scored run's baseline."""
    tables = _tables_module()
    out = tmp_path / "eval" / "ignn_tiny_x2_s0" / "Set5"
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps({"mean": {
        "baseline": {"psnr": 33.68, "ssim": 0.9305}, "model": {"psnr": 33.72, "ssim": 0.93}}}))
    text = tables.collect(tables.TABLES["table_a"], tmp_path)
    assert "| bicubic | - | 33.68 | not run | not run | 0.9305 |" in text


def test_released_weights_row_is_scored_when_the_file_is_there(tmp_path):
    """Table B's released-DnCNN row: one scoring per test set through the conversion script,
    with the weights by path; skipped (one line, no command) when the file is missing."""
    tables = _tables_module()
    table = tables.TABLES["table_b"]
    row = next(r for r in table.classical if r.script == "experiments/released_weights.py")
    commands = [c for _, c in tables.score_commands(table, tmp_path, "/data") if row.script in c[1]]
    if not pathlib.Path(row.needs).exists():
        assert commands == []
        return
    assert [c[c.index("--data") + 1] for c in commands] == ["/data/Set12", "/data/BSD68"]
    assert all(c[c.index("--weights") + 1] == row.needs for c in commands)
