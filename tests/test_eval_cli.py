"""eval.py end to end: score and restore modes on tiny checkpoints, one-line user errors, and
the bicubic baseline row on Set5 x2 (published: 33.68 dB / 0.9305, Y, crop 2).

Oracles: scikit-image's PSNR of the written PNGs against the ground truth files, the published
bicubic numbers, and the images' own sizes.
"""
import csv
import io
import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from jaxrestore import checkpoints, evaluate, protocol, reports, tasks
from jaxrestore.cli import eval as eval_cli
from jaxrestore.configs.common import base_config
from jaxrestore.inference import Restorer
from jaxrestore.models import build_model
from jaxrestore.models.ignn import model_config as ignn_model_config
from jaxrestore.ops.quantize import unit_to_uint8

REPO = pathlib.Path(__file__).resolve().parents[1]


def save_checkpoint(directory, config, input_size=16):
    c = 3 if config.task.name == "demosaic" else config.task.channels
    key = jax.random.key(0, impl="unsafe_rbg")  # compiles faster than threefry
    x = jnp.zeros((1, input_size, input_size, c))
    variables = jax.jit(build_model(config.model).init)(key, x)
    checkpoints.save_for_inference(directory, config, variables)
    return directory


@pytest.fixture(scope="module")
def denoise_checkpoint(tmp_path_factory):
    config = base_config()
    config.model.name = "dncnn"
    config.model.pixel_range = 1.0
    config.model.update(dict(channels=3, n_feats=4, depth=3, batch_norm=False))
    config.task.update(dict(name="denoise", channels=3, sigma=25.0))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "dncnn", config)


@pytest.fixture(scope="module")
def sr_checkpoint(tmp_path_factory):
    """IGNN x2 without its graph (the EDSR trunk; the graph's tiling is tested in
    test_inference.py), small and quick to compile."""
    config = base_config()
    config.model = ignn_model_config(scale=2, n_resblocks=2, n_feats=8, use_graph=False)
    config.task.update(dict(name="sr", channels=3, scale=2))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "ignn", config)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three small PNGs: two RGB of different sizes and one grey (read as 3 equal channels)."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, shape in [("a", (40, 52, 3)), ("b", (36, 36, 3)), ("c", (44, 40))]:
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        smooth = 128 + 60 * np.sin(yy / 5.0 + xx / 7.0)
        if len(shape) == 3:
            smooth = smooth[..., None] * np.array([1.0, 0.8, 0.6])
        noisy = smooth + rng.normal(0, 10, shape)
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def run_main(capsys, *argv):
    code = eval_cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_score_end_to_end_subprocess(denoise_checkpoint, images, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(REPO / "eval.py"), "--checkpoint", str(denoise_checkpoint),
         "--data", str(images), "--out", str(out), "--figures", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    assert "protocol: denoise sigma 25" in stdout and "inference: whole image" in stdout
    assert "noisy input" in stdout and "mean" in stdout
    results = json.loads((out / "results.json").read_text())
    assert [row["name"] for row in results["images"]] == ["a", "b", "c"]
    assert results["protocol"]["tiled_images"] == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["image"] for row in rows] == ["a", "b", "c", "mean"]
    assert sorted(p.name for p in (out / "restored").iterdir()) == ["a.png", "b.png", "c.png"]
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["a.png", "b.png"]
    for row, csv_row in zip(results["images"], rows):
        target = read_rgb(images / f"{row['name']}.png")
        restored = read_rgb(out / "restored" / f"{row['name']}.png")
        expected = peak_signal_noise_ratio(target, restored, data_range=255)
        assert row["model"]["psnr"] == pytest.approx(expected, abs=1e-9)
        assert float(csv_row["model_psnr"]) == pytest.approx(expected, abs=1e-5)
    mean = np.mean([row["model"]["psnr"] for row in results["images"]])
    assert results["mean"]["model"]["psnr"] == pytest.approx(mean)
    # The noisy input at sigma 25 sits near 20.2 dB (10 log10(255² / 25²), less clipping).
    assert 19.5 < results["mean"]["baseline"]["psnr"] < 22


def test_sr_score_tiled_in_process(sr_checkpoint, images, tmp_path, capsys):
    code, out, err = run_main(capsys, "score", "--checkpoint", sr_checkpoint, "--data", images,
                              "--tile", 16, "--overlap", 4, "--bucket", 8, "--out",
                              tmp_path / "sr", "--figures", 1, "--self-ensemble")
    assert code == 0, err
    assert "sr x2" in out and "bicubic" in out and "tiles of 16 px" in out
    assert "x8 self-ensemble" in out and "3 of 3 images tiled" in out
    results = json.loads((tmp_path / "sr" / "results.json").read_text())
    for row in results["images"]:
        target = read_rgb(images / f"{row['name']}.png")
        h, w = target.shape[0] // 2 * 2, target.shape[1] // 2 * 2  # modcrop 2
        assert read_rgb(tmp_path / "sr" / "restored" / f"{row['name']}.png").shape == (h, w, 3)
        assert row["size"] == [h, w]
    figure = Image.open(tmp_path / "sr" / "figures" / "a.png")
    assert figure.width > 4 * 100  # four panels: input, bicubic, ours, ground truth


def test_restore_mode(sr_checkpoint, images, tmp_path, capsys):
    code, out, err = run_main(capsys, "restore", "--checkpoint", sr_checkpoint,
                              images / "a.png", images / "c.png", "--out", tmp_path / "r",
                              "--tile", 24, "--overlap", 8, "--bucket", 8)
    assert code == 0, err
    assert "restored 2 of 2 image(s)" in out
    assert read_rgb(tmp_path / "r" / "a.png").shape == (80, 104, 3)
    gray = Image.open(tmp_path / "r" / "c.png")  # grey in, RGB model: grey out
    assert gray.mode == "L" and gray.size == (80, 88)


def test_user_errors_are_one_line_subprocess(denoise_checkpoint, tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "eval.py"), "--checkpoint", str(denoise_checkpoint),
         "--data", str(tmp_path / "missing")],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip() == f"eval.py: error: {tmp_path / 'missing'}: no such file or folder"


def test_user_errors_are_one_line(denoise_checkpoint, sr_checkpoint, images, tmp_path, capsys):
    not_image = tmp_path / "fake.png"
    not_image.write_text("this is not a PNG")
    text_only = tmp_path / "texts"
    text_only.mkdir()
    (text_only / "notes.txt").write_text("hello")
    rgba = tmp_path / "rgba"
    rgba.mkdir()
    Image.fromarray(np.full((16, 16, 4), 100, np.uint8)).save(rgba / "t.png")  # translucent
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    corrupt = tmp_path / "corrupt" / "0"
    corrupt.mkdir(parents=True)
    (corrupt / "junk").write_text("junk")
    ck, sr = denoise_checkpoint, sr_checkpoint
    cases = [
        (["--checkpoint", ck, "--data", not_image], str(not_image)),
        (["--checkpoint", ck, "--data", text_only], "no images found"),
        (["--checkpoint", tmp_path / "nope", "--data", images], "checkpoint directory not found"),
        (["--checkpoint", tmp_path / "corrupt", "--data", images], "no usable checkpoint"),
        (["--checkpoint", ck, "--data", images, "--task", "sr"], "restores 'denoise'"),
        (["--checkpoint", sr, "--data", images, "--scale", "4"], "SR x2, not --scale 4"),
        (["--checkpoint", ck, "--data", images, "--channels", "1"], "takes 3 channels"),
        (["--checkpoint", ck, "--data", images, "--quality", "10"], "--quality is for jpeg"),
        (["--data", images], "--checkpoint"),
        (["--checkpoint", ck, "--data", rgba], "transparency"),
        (["--checkpoint", ck, "--data", images, "--out", a_file], "is an existing file"),
        (["restore", "--checkpoint", ck, images, "--out", a_file], "is an existing file"),
        (["restore", "--checkpoint", ck, images, "--out", images], "would replace the input"),
        (["restore", "--checkpoint", ck, images / "nope.png", "--out", tmp_path], "not found"),
        (["restore", "--checkpoint", ck, images, "--out", tmp_path, "--tile", "-1"],
         "must not be negative"),
    ]
    for argv, message in cases:
        code, _, err = run_main(capsys, *argv, "--no-progress")
        assert code != 0, argv
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("eval.py: error:"), (argv, err)
        assert message in lines[0], (argv, err)


def dncnn(task, channels, **task_fields):
    config = base_config()
    config.model.name = "dncnn"
    config.model.pixel_range = 1.0
    config.model.update(dict(channels=3 if task == "demosaic" else channels, n_feats=2,
                             depth=2, batch_norm=False))
    config.task.update(dict(name=task, channels=channels, **task_fields))
    key = jax.random.key(0, impl="unsafe_rbg")
    c = config.model.channels
    return config, jax.jit(build_model(config.model).init)(key, jnp.zeros((1, 8, 8, c)))


@pytest.mark.parametrize("task, channels, fields", [
    ("denoise", 1, dict(sigma=15.0)),
    ("jpeg", 3, dict(quality=20)),
    ("demosaic", 3, {}),
])
def test_every_task_through_evaluate(task, channels, fields, images, tmp_path):
    """Each task's protocol runs end to end; JPEG's baseline row equals scikit-image's PSNR of
    Pillow's own JPEG round trip of the ground truth, and a model keeps the target's size."""
    config, variables = dncnn(task, channels, **fields)
    task_ = tasks.task_from_config(config.task)
    restorer = Restorer(config, variables, tile=32, overlap=8, bucket=8)
    results = evaluate.evaluate(evaluate.FolderImages(images, task_.channels), task_,
                                lambda x: restorer.restore([x])[0],
                                on_image=reports.ImageWriter(tmp_path, task_, 1))
    assert len(results["images"]) == 3
    for row in results["images"]:
        restored = np.asarray(Image.open(tmp_path / "restored" / f"{row['name']}.png"))
        assert restored.shape[:2] == tuple(row["size"])
        assert np.isfinite(row["baseline"]["psnr"]) and np.isfinite(row["model"]["psnr"])
    if task == "jpeg":
        assert set(results["mean"]["baseline"]) == {"psnr", "ssim", "psnr_b"}
        target = read_rgb(images / "a.png")
        buffer = io.BytesIO()
        Image.fromarray(target).save(buffer, format="JPEG", quality=20)
        decoded = np.asarray(Image.open(buffer))
        expected = peak_signal_noise_ratio(target, decoded, data_range=255)
        assert results["images"][0]["baseline"]["psnr"] == pytest.approx(expected, abs=1e-9)
    assert (tmp_path / "figures" / "a.png").exists()


def test_help_lists_both_modes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "score" in out and "restore" in out


def test_bicubic_baseline_row_on_set5_x2(shared_data, capsys):
    code, out, err = run_main(capsys, "--baseline-only", "--task", "sr", "--scale", 2,
                              "--data", shared_data / "Set5", "--no-progress")
    assert code == 0, err
    summary = [line for line in out.splitlines() if line.startswith("bicubic")]
    assert len(summary) == 1
    assert summary[0].split()[1:3] == ["33.68", "0.9305"]
    results = evaluate.evaluate(evaluate.FolderImages(shared_data / "Set5", 3),
                                tasks.SR(scale=2))
    assert results["mean"]["baseline"]["psnr"] == pytest.approx(33.68, abs=0.005)
    assert results["mean"]["baseline"]["ssim"] == pytest.approx(0.9305, abs=0.0005)


def _png16(path, array):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB)."""
    import struct
    import zlib

    h, w, c = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 3: 2}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def photos(tmp_path, images):
    """A folder with a.png, a.jpg (same stem), sub/a.png (same name one level down) and b.png."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/a.png", "b.png"):
        (folder / name).write_bytes((images / "a.png").read_bytes())
    Image.open(images / "b.png").save(folder / "a.jpg", quality=95)
    return folder


def test_restore_never_touches_its_inputs(denoise_checkpoint, photos, capsys):
    """--out = the input folder would replace a.png by its output: refused before any work, the
    input byte-identical; nothing written."""
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                            "--out", photos, "--no-progress")
    assert code == 2 and "would replace the input" in err and len(err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before


def test_restore_gives_every_input_its_own_output(denoise_checkpoint, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                                 "--out", out, "--no-progress")
    assert code == 0, err
    assert "restored 4 of 4 image(s)" in stdout
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["a_jpg.png", "a_png.png", "b.png", "sub/a.png"]
    # the outputs really are the restorations of their own inputs
    restorer = Restorer.from_checkpoint(denoise_checkpoint, tile=256, bucket=32)  # restore's
    for source, target in (("a.jpg", "a_jpg.png"), ("sub/a.png", "sub/a.png")):
        expected = np.round(restorer.restore([read_rgb(photos / source)])[0] * 255)
        np.testing.assert_array_equal(read_rgb(out / target), expected)


def test_restore_refuses_to_overwrite_unless_asked(denoise_checkpoint, photos, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"an earlier result")
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                            "--out", out, "--no-progress")
    assert code == 2 and "already exist" in err and len(err.strip().splitlines()) == 1
    assert (out / "b.png").read_bytes() == b"an earlier result"
    assert not (out / "a_png.png").exists()
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                            "--out", out, "--no-progress", "--overwrite")
    assert code == 0, err
    assert Image.open(out / "b.png").size == Image.open(photos / "b.png").size


def test_a_bad_file_does_not_stop_the_others(denoise_checkpoint, photos, tmp_path, capsys):
    (photos / "broken.png").write_bytes(b"not a PNG at all")
    _png16(photos / "deep.png", np.full((8, 8, 3), 40000, np.uint16))
    out = tmp_path / "out"
    code, stdout, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                                 "--out", out, "--no-progress")
    assert code == 1
    assert "restored 4 of 6 image(s)" in stdout and "2 skipped" in stdout
    skipped = [line for line in err.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2 and "Traceback" not in err
    assert any("broken.png" in line for line in skipped)
    assert any("deep.png" in line and "16-bit" in line for line in skipped)
    assert len(list(out.rglob("*.png"))) == 4


def test_restore_carries_alpha_through(sr_checkpoint, tmp_path, capsys):
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = np.linspace(0, 255, 24).astype(np.uint8)[None, :]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    code, _, err = run_main(capsys, "restore", "--checkpoint", sr_checkpoint,
                            tmp_path / "logo.png", "--out", tmp_path / "out", "--no-progress")
    assert code == 0, err
    out = Image.open(tmp_path / "out" / "logo.png")
    assert out.mode == "RGBA" and out.size == (48, 40)
    alpha = np.asarray(out)[..., 3].astype(float)
    assert alpha[:, 0].max() < 20 and alpha[:, -1].min() > 235  # the ramp, x2 by bicubic


def test_score_refuses_to_overwrite_earlier_results(denoise_checkpoint, images, tmp_path,
                                                    capsys):
    out = tmp_path / "out"
    args = ("score", "--checkpoint", denoise_checkpoint, "--data", images, "--out", out,
            "--no-progress", "--figures", 0)
    assert run_main(capsys, *args)[0] == 0
    first = (out / "results.json").read_text()
    code, _, err = run_main(capsys, *args)
    assert code == 2 and "already holds results" in err
    assert (out / "results.json").read_text() == first
    assert run_main(capsys, *args, "--overwrite")[0] == 0


def test_score_names_edsr_and_the_python_api_gives_its_pixels(sr_checkpoint, images, tmp_path,
                                                              capsys):
    """IGNN without its graph is scored as 'edsr'; Restorer.from_checkpoint's defaults restore
    the protocol's LR inputs (40x52 HR: LR 20x26, no multiple of 32) to eval score's pixels."""
    code, out, err = run_main(capsys, "--checkpoint", sr_checkpoint, "--data", images,
                              "--out", tmp_path, "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "results.json").read_text())["protocol"]["model"] == "edsr"
    assert "edsr" in out and "ignn" not in out
    restorer = Restorer.from_checkpoint(sr_checkpoint)
    for name in ("a", "b"):
        degraded = protocol.degrade(read_rgb(images / f"{name}.png"), tasks.SR(scale=2))
        ours = unit_to_uint8(restorer.restore([degraded.input])[0])
        np.testing.assert_array_equal(ours, read_rgb(tmp_path / "restored" / f"{name}.png"))


# -- real operation: unwritable and full output folders, progress, Ctrl-C, odd inputs ----------

def test_unwritable_output_is_one_line_before_the_model_loads(images, tmp_path, capsys):
    """--out below a regular file cannot be created (tests run as root, which ignores chmod, so
    the folder is made impossible instead). The checkpoint does not exist: the output error
    must come first, exit status 1 (a machine failure, not a usage mistake)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    missing = tmp_path / "no_checkpoint"
    for argv in (["restore", "--checkpoint", missing, images, "--out", blocker / "out"],
                 ["score", "--checkpoint", missing, "--data", images, "--out", blocker / "out"]):
        code, _, err = run_main(capsys, *argv, "--no-progress")
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1, (argv, err)
        assert f"cannot write into the output folder {blocker / 'out'}" in lines[0]


class FullDiskAfter:
    """Replaces PIL's Image.save: the first `saves` calls work, the next writes a few bytes and
    fails as a full disk does (OSError ENOSPC)."""

    def __init__(self, monkeypatch, saves: int):
        self.left, self.save = saves, Image.Image.save
        monkeypatch.setattr(Image.Image, "save", self)

    def __get__(self, image, owner=None):
        return lambda fp, *args, **kwargs: self(image, fp, *args, **kwargs)

    def __call__(self, image, fp, *args, **kwargs):
        if self.left == 0:
            pathlib.Path(fp).write_bytes(b"\x89PNG half")
            raise OSError(28, "No space left on device")
        self.left -= 1
        return self.save(image, fp, *args, **kwargs)


def test_a_full_disk_stops_restore_with_one_line(denoise_checkpoint, photos, tmp_path, capsys,
                                                 monkeypatch):
    out = tmp_path / "out"
    FullDiskAfter(monkeypatch, saves=2)  # inputs in order: a.jpg, a.png, b.png, sub/a.png
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, photos,
                            "--out", out, "--no-progress")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert (f"could not write {out / 'b.png'}: No space left on device; 2 file(s) were written "
            f"before it, the last {out / 'a_png.png'}") in err
    assert sorted(p.name for p in out.rglob("*")) == ["a_jpg.png", "a_png.png"]  # no half file


def test_a_full_disk_stops_score_with_one_line(denoise_checkpoint, images, tmp_path, capsys,
                                               monkeypatch):
    out = tmp_path / "out"
    FullDiskAfter(monkeypatch, saves=1)
    code, _, err = run_main(capsys, "score", "--checkpoint", denoise_checkpoint, "--data", images,
                            "--out", out, "--no-progress", "--figures", 0)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert (f"could not write {out / 'restored' / 'b.png'}: No space left on device; 1 file(s) "
            f"were written before it, the last {out / 'restored' / 'a.png'}") in err
    assert sorted(p.name for p in (out / "restored").iterdir()) == ["a.png"]


def test_restore_shows_tile_progress(denoise_checkpoint, images, tmp_path, capsys):
    """A 40x52 image in tiles of 32 with overlap 16: 2 x 3 tiles, counted on stderr."""
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint,
                            images / "a.png", "--out", tmp_path / "out", "--tile", 32,
                            "--overlap", 16)
    assert code == 0, err
    assert "tiles:" in err and "0/6" in err


def test_ctrl_c_is_answered_after_the_current_tile_batch(denoise_checkpoint, images, tmp_path,
                                                         capsys, monkeypatch):
    """SIGINT arrives while the second tile runs: no tile after the one dispatched next is
    started, and the command ends with one line saying what was written, exit status 130."""
    import os
    import signal

    started = []
    run = Restorer._run

    def run_and_interrupt(self, tiles, *args, **kwargs):
        started.append(len(tiles))
        if len(started) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return run(self, tiles, *args, **kwargs)

    monkeypatch.setattr(Restorer, "_run", run_and_interrupt)
    code, _, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint,
                            images / "a.png", images / "b.png", "--out", tmp_path / "out",
                            "--tile", 32, "--overlap", 16, "--no-progress")
    assert code == 130 and started == [1, 1]  # tile batch 1 on CPU; nothing started after
    assert err.strip() == "eval.py: interrupted; 0 of 2 outputs written, each complete"
    assert not (tmp_path / "out" / "a.png").exists()


def test_odd_inputs_in_a_folder_are_listed(denoise_checkpoint, images, tmp_path, capsys):
    """An animated GIF and a 2x3 image are skipped with a line each (exit 1); a text file is
    listed as ignored in the summary; the photo is restored."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.png").write_bytes((images / "b.png").read_bytes())
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(np.full((2, 3, 3), 90, np.uint8)).save(folder / "tiny.png")
    (folder / "notes.txt").write_text("not a photo")
    code, stdout, err = run_main(capsys, "restore", "--checkpoint", denoise_checkpoint, folder,
                                 "--out", tmp_path / "out", "--no-progress")
    assert code == 1
    skipped = sorted(line for line in err.splitlines() if line.startswith("skipped"))
    assert len(skipped) == 2 and "Traceback" not in err
    assert "anim.gif: is an animated or multi-frame image (2 frames)" in skipped[0]
    assert "tiny.png: a 2x3 image is below the smallest size restored, 8x8" in skipped[1]
    assert "restored 1 of 3 image(s)" in stdout and "2 skipped" in stdout
    assert f"ignored 1 file(s) in the input folders: {folder / 'notes.txt'} (not an image " \
           "file)" in stdout
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["photo.png"]


def test_overwrite_into_the_input_folder_never_restores_an_output(denoise_checkpoint, images,
                                                                  tmp_path, capsys):
    """--out = the input folder with --overwrite, run twice: the second run takes the earlier
    output a.png (marked as written by eval restore) as no input, and replaces it."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(images / "a.png").save(folder / "a.jpg", quality=95)
    args = ("restore", "--checkpoint", denoise_checkpoint, folder, "--out", folder,
            "--no-progress", "--overwrite")
    assert run_main(capsys, *args)[0] == 0
    first = (folder / "a.png").read_bytes()
    code, stdout, err = run_main(capsys, *args)
    assert code == 0, err
    assert "restored 1 of 1 image(s)" in stdout and "(written by eval restore)" in stdout
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "a.png"]
    assert (folder / "a.png").read_bytes() == first
