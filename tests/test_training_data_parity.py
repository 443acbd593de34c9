"""IGNN training examples and schedule follow the original's rules (docs/training.md).

Oracles are the original's rules (sczhou/IGNN, file:line in docs/training.md) written out here
in NumPy: its RandomCrop, FlipRotate and RandomColorChannel (utils/data_transforms.py), its
son image (utils/data_loaders.py), its value range (ToTensor) and its learning rate per
iteration (config.py, core/build.py, core/train.py). Our pipeline draws the examples.
"""
import collections
import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore import configs, tasks
from jaxrestore.data import examples
from jaxrestore.data.sources import Sample
from jaxrestore.models import apply_unit_range, ignn
from jaxrestore.train import optim



# ---- the original's rules, transcribed -----------------------------------------------------

def original_crop(lr, hr, hr_crop: int, scale: int, y: int, x: int):
    """RandomCrop at LR origin (y, x), drawn by random.randint(0, lr_size - lr_crop) (both ends
    included); the HR crop starts at scale × the LR origin."""
    c = hr_crop // scale
    return lr[y:y + c, x:x + c], hr[scale * y:scale * y + hr_crop, scale * x:scale * x + hr_crop]


def original_flip_rotate(img, hflip: bool, vflip: bool, transpose: bool):
    """FlipRotate: three independent coin flips, applied in this order (HWC)."""
    if hflip:
        img = img[:, ::-1]
    if vflip:
        img = img[::-1]
    if transpose:
        img = img.transpose(1, 0, 2)
    return img


def original_order_probabilities() -> dict:
    """RandomColorChannel: with probability 0.2 nothing, else np.random.permutation(3); the
    probability of each resulting channel order (img[..., order])."""
    return {order: (0.2 if order == (0, 1, 2) else 0.0) + 0.8 / 6
            for order in itertools.permutations(range(3))}


def original_learning_rate(iteration: int) -> float:
    """Adam's lr at a global iteration: 10,000 iterations per epoch, MultiStepLR(milestones
    16/32/48/64 epochs, gamma 0.5) stepped once at the start of every epoch, lr 1e-4."""
    scheduler_steps = iteration // 10_000 + 1
    return 1e-4 * 0.5 ** sum(scheduler_steps >= m for m in (16, 32, 48, 64))


# ---- helpers ---------------------------------------------------------------------------------

def coded_image(h: int, w: int) -> np.ndarray:
    """uint8 (h, w, 3) whose pixels name their place and channel: row, 100 + col, 200 + row."""
    rows, cols = np.mgrid[:h, :w]
    return np.stack([rows, 100 + cols, 200 + rows], -1).astype(np.uint8)


def decode(example: dict, lr, hr, hr_crop: int, scale: int):
    """The original's parameters (origin, flips, channel order) that make `example` from
    (lr, hr), each found from the coded values and then checked by rebuilding the example with
    the transcribed rules; AssertionError if no parameters or several do."""
    a = np.round(example["input"] * 255).astype(np.uint8)
    b = np.round(example["target"] * 255).astype(np.uint8)
    order = tuple(int(a[0, 0, c]) // 100 for c in range(3))       # a[..., c] = lr[..., order[c]]
    plain = a[..., np.argsort(order)]
    y, x = int(plain[..., 0].min()), int(plain[..., 1].min()) - 100
    lr_crop, hr_crop_img = original_crop(lr, hr, hr_crop, scale, y, x)
    flips = [f for f in itertools.product((False, True), repeat=3)
             if np.array_equal(original_flip_rotate(lr_crop, *f)[..., order], a)
             and np.array_equal(original_flip_rotate(hr_crop_img, *f)[..., order], b)]
    assert len(flips) == 1, f"{len(flips)} flip settings rebuild the example at {(y, x)}"
    return (y, x), flips[0], order


def assert_frequencies(counts: collections.Counter, probabilities: dict, n: int):
    """Every outcome's count within 5 binomial standard deviations of n·p (and no others)."""
    assert set(counts) <= set(probabilities), set(counts) - set(probabilities)
    for outcome, p in probabilities.items():
        sd = np.sqrt(n * p * (1 - p))
        assert abs(counts[outcome] - n * p) <= 5 * sd, (outcome, counts[outcome], n * p)


def ignn_config(scale: int):
    return configs.load(f"ignn_x{scale}")


# ---- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 3, 4])
def test_crop_flips_and_channel_order_are_the_originals(scale):
    """Every example is one the original's RandomCrop → FlipRotate → RandomColorChannel can
    make from the same LR/HR pair (LR and HR alike), and the parameters come with the original's
    probabilities: all LR origins 0..size-crop (inclusive) uniformly, each of the 8 flip
    settings 1/8, the identity channel order 1/3 and each other order 2/15."""
    n = 1200
    lr, hr = coded_image(9, 11), coded_image(9 * scale, 11 * scale)
    config = ignn_config(scale)
    config.data.patch_size = hr_crop = 4 * scale       # LR crop 4: 6 × 8 origins
    samples = examples.prepare([Sample("coded", hr, lr)], scale)
    origins, flips, orders = collections.Counter(), collections.Counter(), collections.Counter()
    for i in range(n):
        example = examples.training_example(samples, tasks.SR(scale=scale), hr_crop, True,
                                              np.random.default_rng([scale, i]),
                                              np.ones(1))
        origin, flip, order = decode(example, lr, hr, hr_crop, scale)
        origins[origin] += 1
        flips[flip] += 1
        orders[order] += 1
    all_origins = list(itertools.product(range(9 - 4 + 1), range(11 - 4 + 1)))
    assert_frequencies(origins, {o: 1 / len(all_origins) for o in all_origins}, n)
    assert_frequencies(flips, {f: 1 / 8 for f in itertools.product((False, True), repeat=3)}, n)
    assert_frequencies(orders, original_order_probabilities(), n)


def test_model_sees_the_originals_integer_values():
    """The original's network gets the uint8 values as float32 0..255 (ToTensor); ours gets the
    pipeline's float32 [0, 1] times pixel_range (apply_unit_range): the same integers, exactly."""
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    config = ignn_config(2)
    config.data.patch_size = 32                                 # the whole LR image
    samples = examples.prepare([Sample("ramp", np.zeros((32, 32, 3), np.uint8), ramp)], 2)
    example = examples.training_example(samples, tasks.SR(scale=2), 32, True,
                                      np.random.default_rng(0), np.ones(1))

    class Fraction:  # a "model" that returns the fractional part of what it is given
        def apply(self, variables, x):
            return x - jnp.round(x)

    x = jnp.asarray(example["input"])[None]
    assert not np.asarray(apply_unit_range(Fraction(), {}, x, 255.0)).any()
    assert sorted(np.unique(np.round(np.asarray(x) * 255))) == list(range(256))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_son_image_is_the_originals(scale):
    """The son image (which our model makes from the augmented LR crop it is given): the LR
    cropped to a multiple of the graph scale (2 for ×4), MATLAB bicubic by 1/graph scale of
    LR/255, × 255, clamped to [0, 255], NOT rounded. Bicubic overshoots a 0 → 255 step edge
    (by 12 and 9 levels at graph scales 2 and 3), so the clamp shows; the rows and columns
    cropped away (odd sizes) must not matter."""
    graph_scale = {2: 2, 3: 3, 4: 2}[scale]                          # data_loaders.py
    assert ignn.graph_scale_for(scale) == graph_scale
    lr = np.zeros((1, 13, 14, 3), np.float32)
    lr[:, :, 5:] = 255
    son = np.asarray(ignn.son_image(jnp.asarray(lr), graph_scale, 255.0))
    h, w = 13 // graph_scale, 14 // graph_scale
    assert son.shape == (1, h, w, 3)
    assert son.min() == 0 and son.max() == 255                       # clamped
    assert np.any(son != np.round(son))                              # not rounded
    changed = lr.copy()
    changed[:, h * graph_scale:, :] = 77                             # beyond the crop
    changed[:, :, w * graph_scale:] = 77
    np.testing.assert_array_equal(ignn.son_image(jnp.asarray(changed), graph_scale, 255.0), son)


@pytest.mark.parametrize("scale, hr_crop", [(2, 160), (3, 198), (4, 160)])
def test_crop_size_and_channel_permutation_are_the_originals(scale, hr_crop):
    """config.py CROP_IMG_SIZE (HR crop) per scale; RandomColorChannel is on."""
    config = ignn_config(scale)
    assert config.data.patch_size == hr_crop and config.data.channel_permutation


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_optimizer_and_schedule_are_the_originals(scale):
    """Adam(lr 1e-4, betas 0.9/0.999), no weight decay or clipping, L1; the learning rate of
    every iteration where the original's MultiStepLR (stepped per epoch) changes it."""
    train = ignn_config(scale).train
    assert (train.optimizer, train.loss, train.grad_clip) == ("adam", "l1", 0.0)
    assert (train.b1, train.b2) == (0.9, 0.999)
    schedule = optim.learning_rate_schedule(train)
    boundaries = [epoch * 10_000 + d for epoch in (0, 15, 31, 47, 63, 79) for d in (-1, 0, 1)]
    for i in [i for i in boundaries if i >= 0] + [799_999]:
        assert float(schedule(i)) == pytest.approx(original_learning_rate(i), rel=1e-6), i


def test_every_crop_is_equally_likely_across_images():
    """#1a: an image is drawn with probability proportional to its number of crop origins (the
    original draws DIV2K sub-images uniformly, so larger images more often): 5 binomial sd."""
    config = configs.load("ignn_tiny_x2")  # HR crop 48, LR crop 24
    small = Sample("small", np.zeros((52, 50, 3), np.uint8), np.zeros((26, 25, 3), np.uint8))
    large = Sample("large", np.ones((96, 120, 3), np.uint8), np.ones((48, 60, 3), np.uint8))
    origins = {"small": 3 * 2, "large": 25 * 37}  # (26 - 24 + 1)(25 - 24 + 1), (48-24+1)(60-24+1)
    samples = [small, large]
    p = examples.crop_probabilities(samples, 2, config.data.patch_size)
    np.testing.assert_allclose(p, [6 / 931, 925 / 931])
    n = 4000
    drawn_small = sum(examples.training_example(samples, tasks.SR(scale=2), config.data.patch_size,
                                                config.data.channel_permutation,
                                                np.random.default_rng([7, i]),
                                                p)["target"].max() == 0 for i in range(n))
    share = origins["small"] / sum(origins.values())
    assert abs(drawn_small - n * share) <= 5 * np.sqrt(n * share * (1 - share)) + 1


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_paper_size_configs_take_the_originals_batch_and_iterations(scale):
    """#9, #10: batch 2, 80 epochs of 10k iterations; the CPU-sized tiny configs keep theirs."""
    config = configs.load(f"ignn_x{scale}")
    assert (config.data.batch_size, config.train.steps) == (2, 800_000)
    tiny = configs.load(f"ignn_tiny_x{scale}")
    assert (tiny.data.batch_size, tiny.train.steps) == (8, 1000)
