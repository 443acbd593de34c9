"""TrainData: determinism, resume, host sharding, workers; per-task shapes, ranges and values
checked against independent oracles (Pillow, hand-written RGGB sites, MATLAB bicubic of the
crop, hand-written dihedral group)."""
import io as pyio
import itertools
import threading
import time

import numpy as np
import pytest
from PIL import Image

from jaxrestore import tasks
from jaxrestore.configs.common import base_config
from jaxrestore.data import pipeline, sources
from jaxrestore.ops.imresize import imresize_np

from test_data_augment import HAND_DIHEDRAL

PERMS = list(itertools.permutations(range(3)))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Three small random-texture PNGs (smooth + noise, so every crop is unique)."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    for i, (h, w) in enumerate([(40, 52), (48, 48), (44, 60)]):
        yy, xx = np.mgrid[:h, :w]
        base = 128 + 60 * np.sin(xx[..., None] / (3 + i) + np.arange(3)) * np.cos(yy[..., None] / 5)
        img = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i}.png")
    return folder


def make_config(photo_dir, task="sr", **overrides):
    config = base_config()
    config.data.source = "folder"
    config.data.train_path = str(photo_dir)
    config.task.name = task
    config.data.patch_size = 16
    config.data.batch_size = 8
    config.data.num_workers = 2
    config.data.prefetch = 2
    for key, value in overrides.items():
        section, field = key.split("__")
        del getattr(config, section)[field]  # a range replaces a number: bypass the type lock
        setattr(getattr(config, section), field, value)
    return config


def take(config, start_step, n, **kwargs):
    with pipeline.TrainData(config, tasks.task_from_config(config.task), **kwargs) as data:
        return list(itertools.islice(data.batches(start_step), n))


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_deterministic_resume_workers_and_sharding(photo_dir):
    config = make_config(photo_dir)
    run = take(config, 0, 4)
    again = take(config, 0, 4)
    resumed = take(config, 3, 1)[0]
    for a, b in zip(run, again):
        assert_same(a, b)
    assert_same(run[3], resumed)
    assert not np.array_equal(run[0]["target"], run[1]["target"])
    config.data.num_workers = 0
    assert_same(take(config, 2, 1)[0], run[2])
    halves = [take(config, 2, 1, process_index=p, process_count=2)[0] for p in (0, 1)]
    for p, half in enumerate(halves):
        assert half["input"].shape == (4, 8, 8, 3) and half.keys() == {"input", "target"}
        assert_same(half, {k: v[4 * p:4 * p + 4] for k, v in run[2].items()})
    assert not np.array_equal(halves[0]["target"], halves[1]["target"])
    config.train.seed = 1
    assert not np.array_equal(take(config, 2, 1)[0]["target"], run[2]["target"])


def _locate(hr, crop):
    """All (transform, perm, y, x) with hr[y:y+p, x:x+p] == transform(crop)[..., perm], over the
    hand-written dihedral group and the 6 channel orders (candidates from the corner pixel)."""
    p = crop.shape[0]
    hits = []
    for name, f in HAND_DIHEDRAL.items():
        for perm in PERMS:
            candidate = f(crop)[..., perm]
            for y, x in zip(*np.nonzero(np.all(hr == candidate[0, 0], axis=-1))):
                if np.array_equal(hr[y:y + p, x:x + p], candidate):
                    hits.append((name, perm, y, x))
    return hits


def test_sr_alignment_and_augmentation(photo_dir):
    config = make_config(photo_dir, data__channel_permutation=True, data__batch_size=24,
                         task__scale=2)
    batch = take(config, 5, 1)[0]
    assert batch["input"].shape == (24, 8, 8, 3) and batch["target"].shape == (24, 16, 16, 3)
    assert batch.keys() == {"input", "target"}  # IGNN makes its son image itself
    assert all(v.dtype == np.float32 for v in batch.values())
    images = [np.asarray(Image.open(photo_dir / f"img{i}.png")) for i in range(3)]
    lrs = [imresize_np(im[:im.shape[0] // 2 * 2, :im.shape[1] // 2 * 2], 0.5) for im in images]
    seen_transforms, seen_perms = set(), set()
    for n in range(24):
        target = np.round(batch["target"][n] * 255).astype(np.uint8)
        lr_in = np.round(batch["input"][n] * 255).astype(np.uint8)
        hits = [(i, h) for i, im in enumerate(images) for h in _locate(im, target)]
        assert len(hits) == 1, f"example {n}: {len(hits)} placements"
        i, (name, perm, y, x) = hits[0]
        assert y % 2 == 0 and x % 2 == 0  # HR origin on the LR grid
        # input = the same transform of the aligned crop of the whole image's uint8 LR
        np.testing.assert_array_equal(HAND_DIHEDRAL[name](lr_in)[..., perm],
                                      lrs[i][y // 2:y // 2 + 8, x // 2:x // 2 + 8])
        # independent check of the alignment: away from its border, the LR crop equals MATLAB
        # bicubic of the HR crop region alone (the x2 kernel reaches 2 LR pixels out)
        own = imresize_np(images[i][y:y + 16, x:x + 16], 0.5)
        np.testing.assert_array_equal(own[2:-2, 2:-2],
                                      lrs[i][y // 2 + 2:y // 2 + 6, x // 2 + 2:x // 2 + 6])
        seen_transforms.add(name)
        seen_perms.add(perm)
    assert len(seen_transforms) >= 6 and len(seen_perms) >= 4


def test_denoise_fixed_and_blind(photo_dir):
    batch = take(make_config(photo_dir, "denoise", task__sigma=25.0, data__batch_size=16), 0, 1)[0]
    assert batch.keys() == {"input", "target"}
    assert batch["input"].shape == batch["target"].shape == (16, 16, 16, 3)
    noise = (batch["input"] - batch["target"]).astype(np.float64)
    assert abs(noise.std() * 255 - 25) < 0.6 and abs(noise.mean()) * 255 < 0.6
    assert batch["input"].min() < 0 or batch["input"].max() > 1  # not clipped
    assert batch["target"].min() >= 0 and batch["target"].max() <= 1
    blind = take(make_config(photo_dir, "denoise", task__sigma=[5.0, 50.0],
                             data__batch_size=32), 0, 1)[0]
    sigmas = (blind["input"] - blind["target"]).std(axis=(1, 2, 3)) * 255
    assert sigmas.min() > 3 and sigmas.max() < 53 and sigmas.max() - sigmas.min() > 20


def test_jpeg_gray_matches_pillow(photo_dir):
    batch = take(make_config(photo_dir, "jpeg", task__channels=1, task__quality=20), 1, 1)[0]
    assert batch["input"].shape == batch["target"].shape == (8, 16, 16, 1)
    for inp, tgt in zip(batch["input"], batch["target"]):
        clean = np.round(tgt[..., 0] * 255).astype(np.uint8)
        buffer = pyio.BytesIO()
        Image.fromarray(clean, "L").save(buffer, "JPEG", quality=20)
        decoded = np.asarray(Image.open(buffer)).astype(np.float32) / 255
        np.testing.assert_array_equal(inp[..., 0], decoded)
    ranged = take(make_config(photo_dir, "jpeg", task__quality=[10, 40]), 1, 1)[0]
    assert ranged["input"].shape == (8, 16, 16, 3)


def test_demosaic_rggb_sites(photo_dir):
    batch = take(make_config(photo_dir, "demosaic"), 0, 1)[0]
    x, t = batch["input"], batch["target"]
    assert x.shape == t.shape == (8, 16, 16, 3)
    sites = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}  # RGGB: row parity, column parity
    for (r, c), channel in sites.items():
        sub_x, sub_t = x[:, r::2, c::2], t[:, r::2, c::2]
        np.testing.assert_array_equal(sub_x[..., channel], sub_t[..., channel])
        others = [k for k in range(3) if k != channel]
        assert not sub_x[..., others].any()


def test_skimage_default_gray(photo_dir):
    config = base_config()
    config.task.name, config.task.channels, config.task.sigma = "denoise", 1, 15.0
    config.data.patch_size, config.data.batch_size, config.data.num_workers = 32, 4, 0
    start = time.perf_counter()
    data = pipeline.TrainData(config, tasks.task_from_config(config.task))
    assert len(data.samples) == 9 and time.perf_counter() - start < 10
    assert data.batch(0)["input"].shape == (4, 32, 32, 1)
    val = sources.validation_samples(config.data.val_path, config.task.channels)
    assert [v.name for v in val] == ["chelsea", "coffee"]
    assert val[0].image.shape == (300, 451, 1) and val[0].image.dtype == np.uint8


def test_data_errors(photo_dir):
    with pytest.raises(ValueError, match="divisible"):
        pipeline.TrainData(make_config(photo_dir), tasks.SR(), process_count=3)
    with pytest.raises(ValueError, match="patch_size"):
        config = make_config(photo_dir, "denoise", data__patch_size=64)
        pipeline.TrainData(config, tasks.task_from_config(config.task))


def test_close_stops_worker_threads(photo_dir):
    def workers():
        return [t for t in threading.enumerate() if t.name.startswith("jaxrestore-data")]

    with pipeline.TrainData(make_config(photo_dir, data__num_workers=3), tasks.SR()) as data:
        next(data.batches(0))
        assert 1 <= len(workers()) <= 3
    assert not workers()


def test_images_smaller_than_the_patch_give_one_line(photo_dir, caplog):
    """Two of the three photos (40x52, 44x60) are below a 46-pixel patch: one warning line for
    both; with a patch above all three, only the error (no warning per image)."""
    with caplog.at_level("WARNING"):
        config = make_config(photo_dir, "denoise", data__patch_size=46, data__num_workers=0)
        pipeline.TrainData(config, tasks.task_from_config(config.task)).close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "skipping 2 of 3 training images" in warnings[0]
    caplog.clear()
    with caplog.at_level("WARNING"), pytest.raises(ValueError, match="3 images. shorter sides are at most 48"):
        config = make_config(photo_dir, "denoise", data__patch_size=64)
        pipeline.TrainData(config, tasks.task_from_config(config.task))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
