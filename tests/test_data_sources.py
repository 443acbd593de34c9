"""Image sources: folders (recursive, grey, junk files, empty), the embedded photos, and TFDS
DIV2K (offline fail-fast without tfds; the reading path with a stand-in tfds module)."""
import json
import logging
import pathlib
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from PIL import Image

from jaxrestore import tasks
from jaxrestore.configs.common import base_config
from jaxrestore.data import pipeline, sources, tfds_div2k


@pytest.fixture()
def mixed_dir(tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (18, 22), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "b_colour.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(gray, "L").save(tmp_path / "sub" / "a_gray.bmp")
    Image.fromarray(colour[:16, :16]).save(tmp_path / "sub" / "c_small.jpg", quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    return tmp_path, colour, gray


def test_folder_recursive_gray_and_junk(mixed_dir, caplog):
    folder, colour, gray = mixed_dir
    with caplog.at_level(logging.WARNING):
        samples = sources.folder_images(str(folder), channels=3)
    names = sorted(s.name for s in samples)
    assert names == ["a_gray", "b_colour", "c_small"]  # notes.txt ignored, broken.png skipped
    assert "broken.png" in caplog.text
    by_name = {s.name: s.image for s in samples}
    np.testing.assert_array_equal(by_name["b_colour"], colour)
    assert by_name["a_gray"].shape == (18, 22, 3)
    for c in range(3):
        np.testing.assert_array_equal(by_name["a_gray"][..., c], gray)
    assert all(s.image.dtype == np.uint8 and s.lr is None for s in samples)
    gray_samples = sources.folder_images(str(folder), channels=1)
    assert {s.image.shape[-1] for s in gray_samples} == {1}
    gray_by_name = {s.name: s.image for s in gray_samples}
    np.testing.assert_array_equal(gray_by_name["a_gray"][..., 0], gray)


def test_folder_list_and_errors(mixed_dir, tmp_path_factory):
    folder, _, _ = mixed_dir
    both = sources.folder_images(f"{folder}, {folder / 'sub'}", channels=3)
    assert len(both) == 5
    empty = tmp_path_factory.mktemp("empty")
    (empty / "readme.md").write_text("nothing here")
    with pytest.raises(sources.DataSourceError, match="no readable"):
        sources.folder_images(str(empty), channels=3)
    with pytest.raises(sources.DataSourceError, match="not found"):
        sources.folder_images(str(empty / "missing"), channels=3)
    config = base_config()
    config.data.source, config.data.train_path = "folder", str(empty)
    with pytest.raises(sources.DataSourceError, match=str(empty)):
        pipeline.TrainData(config, tasks.SR())
    config.data.source = "imagenet"
    with pytest.raises(sources.DataSourceError, match="unknown data.source"):
        pipeline.TrainData(config, tasks.SR())


def test_embedded_photos_are_bundled():
    train = sources.skimage_photos("train", 3)
    val = sources.skimage_photos("val", 3)
    assert len(train) == 9 and [s.name for s in val] == ["chelsea", "coffee"]
    assert not {s.name for s in train} & {s.name for s in val}
    assert all(s.image.ndim == 3 and s.image.shape[-1] == 3 for s in train + val)


def test_tfds_not_prepared_fails_fast_in_one_line(tmp_path):
    """Offline and without prepared data: a one-line error within seconds, no tfds import,
    no network (a fresh interpreter so the timing includes imports)."""
    code = (
        "from jaxrestore.configs.common import base_config\n"
        "from jaxrestore import tasks\n"
        "from jaxrestore.data import pipeline\n"
        "c = base_config(); c.data.source = 'tfds_div2k'\n"
        f"c.data.tfds_data_dir = {str(tmp_path)!r}; c.task.scale = 3\n"
        "try:\n    pipeline.TrainData(c, tasks.SR(scale=3))\n"
        "except ValueError as e:\n    print(e)\n"
        "import sys; print('tensorflow_datasets' in sys.modules)\n")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip().splitlines()
    assert time.perf_counter() - start < 30
    assert len(out) == 2 and out[1] == "False"
    assert "div2k/bicubic_x3 is not prepared in" in out[0]
    assert f"tfds build div2k/bicubic_x3 --data_dir {tmp_path}" in out[0]
    with pytest.raises(sources.DataSourceError, match="bicubic scales"):
        tfds_div2k.builder_name(5)


def test_tfds_reading_path_with_stand_in_module(tmp_path, monkeypatch):
    """A prepared directory plus a stand-in `tensorflow_datasets` recording how it is called:
    builder name, data_dir, no GCS, split names; examples become aligned HR/LR Samples."""
    version = tmp_path / "div2k" / "bicubic_x2" / "2.0.0"
    version.mkdir(parents=True)
    (version / "dataset_info.json").write_text(json.dumps({"name": "div2k"}))
    rng = np.random.default_rng(3)
    examples = [{"hr": rng.integers(0, 256, (40, 36, 3), dtype=np.uint8),
                 "lr": rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)} for _ in range(3)]
    calls = []

    class Builder:
        def __init__(self, name, data_dir, try_gcs):
            calls.append(("builder", name, data_dir, try_gcs))

        def as_dataset(self, split, shuffle_files):
            calls.append(("as_dataset", split, shuffle_files))
            return examples

    fake = types.ModuleType("tensorflow_datasets")
    fake.builder = lambda name, data_dir, try_gcs: Builder(name, data_dir, try_gcs)
    fake.as_numpy = lambda dataset: iter(dataset)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)

    samples = tfds_div2k.load("val", 2, 3, str(tmp_path))
    assert calls == [("builder", "div2k/bicubic_x2", str(tmp_path), False),
                     ("as_dataset", "validation", False)]
    assert len(samples) == 3
    np.testing.assert_array_equal(samples[1].image, examples[1]["hr"])
    np.testing.assert_array_equal(samples[1].lr, examples[1]["lr"])

    config = base_config()
    config.data.source, config.data.tfds_data_dir = "tfds_div2k", str(tmp_path)
    config.data.patch_size, config.data.batch_size, config.data.num_workers = 16, 2, 0
    batch = pipeline.TrainData(config, tasks.SR()).batch(0)
    assert batch["input"].shape == (2, 8, 8, 3) and batch["target"].shape == (2, 16, 16, 3)
    gray = tfds_div2k.load("train", 2, 1, str(tmp_path), with_lr=False)
    assert gray[0].image.shape == (40, 36, 1) and gray[0].lr is None


def test_real_tfds_builder_matches_our_assumptions(tmp_path):
    """With tensorflow-datasets installed (an optional extra; skipped otherwise): the builder
    names exist, the prepared-data folder we check is the one tfds reads, and the features are
    'hr' / 'lr'. Needs neither TensorFlow nor the network (try_gcs=False, empty data_dir)."""
    tfds = pytest.importorskip("tensorflow_datasets")
    for scale in tfds_div2k.SCALES:
        builder = tfds.builder(tfds_div2k.builder_name(scale), data_dir=str(tmp_path),
                               try_gcs=False)
        assert not builder.is_prepared()
        assert pathlib.Path(builder.data_dir).parent == tmp_path / "div2k" / f"bicubic_x{scale}"
        assert set(builder.info.features.keys()) == {"hr", "lr"}
    with pytest.raises(sources.DataSourceError, match="not prepared"):
        tfds_div2k.check_prepared(2, tmp_path)
