"""Inference API: a checkpoint → a jit-compiled restorer for images of any size and number.

    restorer = Restorer.from_checkpoint("runs/ignn_tiny_x2", tile=256, self_ensemble=True)
    outputs = restorer.restore([image_a, image_b])   # HxW[xC] uint8, or float in [0, 1]

Inputs are what the model of `config.task` restores: the LR image for SR, the noisy / JPEG
image for denoising / JPEG, the mosaic for demosaicing. Outputs are float32 in [0, 1]
(clamped), `scale` times larger for SR, in the input's colour mode.

Colour rule (one for every model; `prepare` and `finish`):
- an image with the model's channels goes in as it is;
- a grey image into a colour model is repeated into 3 channels, and the output is turned back
  into grey by its luma (`jaxrestore.ops.color.rgb_to_luma`, MATLAB rgb2gray's BT.601 weights);
- a colour image into a grey model: its luma goes through the model, and the output is the
  input's colour (bicubic-upscaled for SR) plus the change the model made to the luma, i.e. the
  model restores the luma and the chroma is kept (full-range BT.601 YCbCr);
- demosaicing: a 1-channel image is the RGGB mosaic (made into the 3-channel masked form), a
  3-channel image is taken to be that masked form already.

How an image reaches the model:

1. Tiling. With `tile` set, an image larger than `tile` in height or width is cut into
   overlapped tiles (`jaxrestore.ops.tiling.plan_tiles`: `overlap` pixels shared, the last tile
   flush with the border). The tiles of the image, and of every other image of the same size in
   the call, are cut from the host image and prepared (colour rule, floats in [0, 1]) one
   batch at a time, and go through the jitted model `tile_batch` at a time (default: 1 on CPU,
   where batching measured no faster, 8 on GPU/TPU); each output tile is weighted by its
   blending window on the device, and only the weighted tiles come back to the host, where
   they are added into one preallocated float32 output image (normalised in place). At most
   two tile batches are in flight on accelerators (the next one is dispatched before the
   current one is waited for), one on CPU, so memory is the input as given, its output and a
   constant set by the tile batch, whatever the image size; Ctrl-C is answered when the
   current batch returns. The colour rule on the output and the final clamp work in place or
   in row bands (`jaxrestore.ops.tiling.row_bands`), adding no image-sized copy. Each tile is
   padded to the bucket like a whole image (below), and IGNN's son image is computed by the
   model from each LR tile (so it equals the whole image's son away from tile borders, see
   tests). Tiled outputs differ from whole-image outputs near tile seams
   (tests/test_inference.py measures it); an image that fits in one tile is processed exactly
   as without tiling.
2. Size buckets. Each (tile or whole) image is padded with reflection at the bottom and right
   up to the next multiple of `bucket` in height and width, restored, and cropped back.
   Reflection keeps a Bayer mosaic's RGGB phase. Up to `batch_size` equal-bucket images are
   stacked into one batch, its size rounded up to a power of two (missing entries are zeros
   and are dropped). `bucket=1` (the default) means exact sizes, the whole-image protocol of
   the papers and of `eval score`, so the Python API gives its pixels; `eval restore` uses 32
   (a bounded number of compilations for a stream of sizes, borders slightly different).
   Images smaller than `MIN_SIDE` pixels in height or width are refused: with so little
   context the models' outputs move further from their in-context outputs than the baseline
   does (measured on the committed models: README, "What you can rely on").
3. Self-ensemble (x8): `jaxrestore.ops.ensemble.self_ensemble` inside the same jitted
   function, so it adds no compilation; each dihedral copy of IGNN's LR gets its own son.

Compilation bound: the jitted forward is traced once per distinct (batch, height, width). With
`tile = T` (a multiple of `bucket = b`), heights and widths are multiples of b up to T, whole
images go in batches of powers of two up to batch_size and tiles in batches of tile_batch (a
call's last, partial batch of tiles in the smallest power of two that holds it, so no more than
half of it is padding), so a stream of images of any sizes compiles at most
(T/b)² × (⌈log2 batch_size⌉ + ⌈log2 tile_batch⌉ + 2) times; with `tile=None`, once per
distinct bucketed (batch, size). `Restorer.traces` counts the traces.
"""
import collections
import math
import sys
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from jaxrestore import checkpoints
from jaxrestore.config import check_model_and_task, parse_task
from jaxrestore.errors import CheckpointError, InputError, UserError
from jaxrestore.models import DTYPES, apply_unit_range, build_model, signature
from jaxrestore.ops.color import rgb_to_luma
from jaxrestore.ops.conv import resolve_conv_algorithm
from jaxrestore.ops.ensemble import self_ensemble
from jaxrestore.ops.imresize import imresize_np
from jaxrestore.ops.tiling import pad_to_multiple, plan_tiles, row_bands

MIN_SIDE = 8  # the smallest input height and width restored (module docstring)


def load_checkpoint(directory, log=None):
    """(config, variables) of the newest usable step of a checkpoint directory or train.py
    workdir (see `jaxrestore.checkpoints.load_for_inference`); the config is checked."""
    config, variables, _ = checkpoints.load_for_inference(directory, log)
    try:
        check_model_and_task(config.model, parse_task(config.task))
    except UserError as error:
        raise CheckpointError(f"checkpoint {directory} holds an unusable config: "
                              f"{error}") from None
    return config, variables


def conv_algorithm(model_config, platforms: Sequence[str] | None = None) -> str:
    """How the convolutions of the model `model_config` describes run on `platforms` (default:
    this process's backend): its `conv_algorithm` setting resolved (`resolve_conv_algorithm`),
    'direct' (XLA's) for models without that setting."""
    return resolve_conv_algorithm(model_config.get("conv_algorithm", "direct"), platforms)


def _image_array(image) -> np.ndarray:
    """HxW / HxWx1 / HxWx3 uint8, uint16 or float image → its (H, W, C) view, checked."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise InputError(f"expected an HxW, HxWx1 or HxWx3 image, got shape {image.shape}")
    if image.dtype not in (np.uint8, np.uint16) and not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"unsupported image dtype {image.dtype} (use uint8, uint16 or float)")
    return image


def _unit_image(image) -> np.ndarray:
    """HxW / HxWx1 / HxWx3 uint8, uint16 or float image → (H, W, C) floats in [0, 1]."""
    image = _image_array(image)
    if image.dtype == np.uint8:
        return image / np.float32(255.0)
    if image.dtype == np.uint16:
        return image / np.float32(65535.0)
    return image


def _check_size(image: np.ndarray) -> None:
    """InputError for an (H, W, C) image below MIN_SIDE x MIN_SIDE."""
    if min(image.shape[:2]) < MIN_SIDE:
        raise InputError(f"a {image.shape[0]}x{image.shape[1]} image is below the smallest size "
                         f"restored, {MIN_SIDE}x{MIN_SIDE} pixels (too little context)")


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _batch_bucket(n: int) -> int:
    """Smallest power of two ≥ n."""
    return 1 << (n - 1).bit_length()


def default_tile_batch() -> int:
    """Tiles per device call when none is asked for: 1 on CPU (a batch of tiles measured no
    faster there, bench/restore.py), 8 on accelerators."""
    return 1 if jax.default_backend() == "cpu" else 8


class Restorer:
    """A model and its weights, ready to restore host images (see the module docstring).

    Attributes:
      config: the run config (`model` builds the network, `task` says what it restores).
      task: the `jaxrestore.tasks` task parsed from config.task.
      scale: output size / input size (the SR scale, 1 for other tasks).
      channels: channels of the model's input images.
      traces: how many times the jitted forward has been traced (= compiled).
      conv_algorithm: how the model's convolutions run (`jaxrestore.ops.conv`), decided here:
        a model setting 'auto' is resolved for `platforms` (the platforms the restorer's
        programs will run on; default: this process's backend) and recorded in `config` too.
      dispatch_ahead: tile batches dispatched while one is waited for (1 on accelerators, 0 on
        CPU: module docstring, step 1).
    """

    def __init__(self, config, variables, *, tile: int | None = None, overlap: int = 32,
                 bucket: int = 1, batch_size: int = 8, tile_batch: int | None = None,
                 self_ensemble: bool = False, dtype: str | None = None,
                 platforms: Sequence[str] | None = None):
        config = config.copy_and_resolve_references()
        if dtype is not None:  # computation dtype of the model ('float32' | 'bfloat16')
            if dtype not in DTYPES:
                raise InputError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
            config.model.dtype = dtype
        self.conv_algorithm = conv_algorithm(config.model, platforms)
        if "conv_algorithm" in config.model:
            config.model.conv_algorithm = self.conv_algorithm
        task = parse_task(config.task)
        self.config = config
        self.task = task
        self.scale = task.scale
        self.channels = task.in_channels
        tile_batch = default_tile_batch() if tile_batch is None else tile_batch
        if bucket < 1 or batch_size < 1 or tile_batch < 1:
            raise InputError("bucket, batch_size and tile_batch must be positive")
        if tile is not None:
            if tile < bucket or tile % bucket:
                raise InputError(f"tile ({tile}) must be a positive multiple of bucket ({bucket})")
            if not 0 <= overlap < tile:
                raise InputError(f"overlap ({overlap}) must be in [0, tile={tile})")
            if tile % task.alignment or overlap % task.alignment:
                raise InputError(f"{task.name} needs tile and overlap multiples of "
                                 f"{task.alignment} (e.g. the RGGB phase)")
        if self_ensemble and not task.self_ensemble:
            raise InputError(f"self-ensemble would change the {task.name} input (e.g. the Bayer "
                             "pattern); not for this task")
        self.tile, self.overlap, self.bucket = tile, overlap, bucket
        self.batch_size, self.tile_batch = batch_size, tile_batch
        self.self_ensemble = self_ensemble
        # on accelerators the host's blending overlaps the device; on CPU a batch dispatched
        # ahead would only delay the answer to Ctrl-C
        self.dispatch_ahead = 0 if jax.default_backend() == "cpu" else 1
        self.traces = 0
        self._module = build_model(config.model, task.scale)
        self._min_size = signature(config.model, task.scale).min_size
        self._pixel_range = float(config.model.pixel_range)
        self._variables = jax.device_put(variables)
        self._forward = jax.jit(self._forward_impl)

    @classmethod
    def from_checkpoint(cls, directory, log=None, **options) -> "Restorer":
        """Restorer for the newest usable step of a checkpoint directory; options as for
        __init__."""
        config, variables = load_checkpoint(directory, log)
        return cls(config, variables, **options)

    def network(self, variables=None):
        """The restoring function of the model's own input: (B, h, w, C) float32 in [0, 1] →
        (B, h*s, w*s, C'), not clamped; x8 self-ensembled when asked. Pure: jit, export or
        vmap it. `variables` default to the restorer's own."""
        variables = self._variables if variables is None else variables

        def model(images):
            return apply_unit_range(self._module, variables, images, self._pixel_range)

        return (lambda x: self_ensemble(model, x)) if self.self_ensemble else model

    def _forward_impl(self, variables, x, weight):
        """`network` times weight (B, h*s, w*s, 1); traced once per shape."""
        self.traces += 1
        return self.network(variables)(x) * weight

    def _run(self, x: np.ndarray, weight: np.ndarray | None = None,
             batch: int | None = None) -> jax.Array:
        """Equal-size host images (n, h, w, C) → device outputs (n, h*s, w*s, C') times
        `weight` (n, h*s, w*s, 1) (default 1): padded to the bucket, the batch to `batch`
        (default: the next power of two); dispatched, not waited for."""
        n, h, w, _ = x.shape
        s, batch = self.scale, batch or _batch_bucket(n)
        padded, _ = pad_to_multiple(x, self.bucket, mode="reflect")
        if min(padded.shape[1:3]) < self._min_size:
            raise InputError(f"a {h}x{w} image is too small for this {self.config.model.name} "
                             f"model: it needs at least {self._min_size}x{self._min_size} "
                             "pixels (or a larger bucket)")
        out_h, out_w = padded.shape[1] * s, padded.shape[2] * s
        if weight is None:
            weight = np.ones((n, h * s, w * s, 1), np.float32)
        weight = np.pad(weight, ((0, batch - n), (0, out_h - h * s), (0, out_w - w * s), (0, 0)))
        padded = np.pad(padded, ((0, batch - n), (0, 0), (0, 0), (0, 0)))
        y = self._forward(self._variables, jnp.asarray(padded, jnp.float32),
                          jnp.asarray(weight, jnp.float32))
        return y[:n, : h * s, : w * s]

    def is_tiled(self, image) -> bool:
        """Whether an image of this shape (H, W[, C]) is restored tile by tile."""
        h, w = np.shape(image)[:2]
        return self.tile is not None and (h > self.tile or w > self.tile)

    # -- the colour rule -------------------------------------------------------------------

    def prepare(self, image) -> np.ndarray:
        """An HxW / HxWxC uint8, uint16 or float [0, 1] image → the model's float32 input
        (H, W, channels) in [0, 1], by the colour rule of the module docstring."""
        x = _unit_image(image).astype(np.float32, copy=False)
        _check_size(x)
        if not self.task.colour_rule:
            return self.task.model_input(x)
        if x.shape[-1] == self.channels:
            return x
        if self.channels == 3:
            return np.repeat(x, 3, axis=-1)
        return rgb_to_luma(x)

    def finish(self, image, output: np.ndarray) -> np.ndarray:
        """The model's output (H*s, W*s, C') for `image` → float32 in [0, 1] in the input's
        colour mode; `output` is clamped in place when it is a writable float32 array, the
        colour rule is applied in row bands."""
        image = np.asarray(image)
        channels = 1 if image.ndim == 2 else image.shape[-1]
        output = np.asarray(output, np.float32)
        if not output.flags.writeable:
            output = output.copy()
        np.clip(output, 0.0, 1.0, out=output)
        if not self.task.colour_rule or channels == self.channels:
            return output
        result = np.empty(output.shape[:2] + (channels,), np.float32)
        if channels == 3 and self.scale > 1:  # the chroma of the bicubic-upscaled input
            image = imresize_np(_unit_image(image).astype(np.float64), self.scale)
        for band in row_bands(output.shape[0]):
            if channels == 1:
                result[band] = rgb_to_luma(output[band])
            else:  # the model restored the luma; the chroma is the input's
                colour = _unit_image(image[band]).astype(np.float64)
                result[band] = colour + (output[band] - rgb_to_luma(colour))
        return np.clip(result, 0.0, 1.0, out=result)

    # -- restoring -------------------------------------------------------------------------

    def restore(self, images, progress: bool = False):
        """Restores a list of images (or an (N, H, W, C) array); see the module docstring.

        Returns a list of float32 (H*s, W*s, C) arrays in [0, 1] (an array for an array).
        progress: a progress bar over the tile batches (stderr).
        """
        as_array = isinstance(images, np.ndarray | jax.Array) and np.ndim(images) == 4
        arrays = [_image_array(image) for image in images]
        for x in arrays:
            _check_size(x)
        prepared = [None if self.is_tiled(x) else self.prepare(x) for x in arrays]  # tiles: later
        outputs = [None] * len(arrays)
        whole, tiled = collections.defaultdict(list), collections.defaultdict(list)
        for index, x in enumerate(arrays):
            if self.is_tiled(x):
                tiled[x.shape[:2]].append(index)
            else:
                whole[tuple(_round_up(n, self.bucket) for n in x.shape[:2])].append(index)
        for indices in whole.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                padded = [pad_to_multiple(prepared[i][None], self.bucket, mode="reflect")[0]
                          for i in chunk]
                restored = np.asarray(self._run(np.concatenate(padded)))
                for i, output in zip(chunk, restored):
                    h, w, _ = prepared[i].shape
                    outputs[i] = output[: h * self.scale, : w * self.scale]
        for indices in tiled.values():
            restored = self._restore_tiled([arrays[i] for i in indices], progress)
            for i, output in zip(indices, restored):
                outputs[i] = output
        outputs = [self.finish(image, output) for image, output in zip(images, outputs)]
        return np.stack(outputs) if as_array else outputs

    def _restore_tiled(self, x: list, progress: bool) -> list:
        """Equal-size large host images [(H, W, C)] as given → [(H*s, W*s, C')] float32: each
        tile prepared (`prepare`) when its batch is cut, the batches run on the device, the
        weighted tiles blended into one preallocated output (module docstring, step 1)."""
        n, (h, w) = len(x), x[0].shape[:2]
        s = self.scale
        if self.task.alignment > 1:  # tiles must start on aligned rows/columns (RGGB phase)
            x = [pad_to_multiple(image[None], self.task.alignment, mode="reflect")[0][0]
                 for image in x]
        plan = plan_tiles(x[0].shape[0], x[0].shape[1], self.tile, self.overlap, s)
        jobs = [(image, index) for image in range(n) for index in range(len(plan))]
        out = None
        batches = [jobs[i:i + self.tile_batch] for i in range(0, len(jobs), self.tile_batch)]

        def dispatch(batch):
            tiles = np.stack([self.prepare(plan.crop_tiles(x[image], [index])[0])
                              for image, index in batch])
            weights = np.stack([plan.weight(index) for _, index in batch]).astype(np.float32)
            size = min(self.tile_batch, _batch_bucket(len(batch)))  # a partial batch: less padding
            return self._run(tiles, weights, batch=size)

        def finished():
            """(batch, its weighted tiles on the host), `dispatch_ahead` more batches
            dispatched while one is waited for."""
            ahead = self.dispatch_ahead
            in_flight = collections.deque()
            for batch in batches + [None] * ahead:
                if batch is not None:
                    in_flight.append((batch, dispatch(batch)))
                if len(in_flight) > ahead or batch is None:
                    done, pending = in_flight.popleft()
                    yield done, np.asarray(pending)  # waits for this batch only

        with tqdm(total=len(jobs), desc="tiles", unit="tile", leave=False, disable=not progress,
                  file=sys.stderr) as bar:
            for batch, weighted in finished():
                if out is None:
                    out = np.zeros((n, plan.height * s, plan.width * s, weighted.shape[-1]),
                                   np.float32)
                for (image, index), piece in zip(batch, weighted):
                    plan.add(out[image], index, piece)
                bar.update(len(batch))
        return list(plan.normalise(out)[:, : h * s, : w * s])

    def max_compilations(self) -> float:
        """The documented bound on traces for any stream of images (inf without tiling)."""
        if self.tile is None:
            return math.inf
        per_side = -(-self.tile // self.bucket)
        return per_side**2 * (math.ceil(math.log2(self.batch_size))
                              + math.ceil(math.log2(self.tile_batch)) + 2)

    def describe(self) -> str:
        """One line naming the inference protocol (tiled or whole image, ensemble, buckets)."""
        if self.tile is None:
            how = "whole image"
        else:
            how = (f"tiles of {self.tile} px with {self.overlap} px overlap for larger images, "
                   f"{self.tile_batch} per device batch")
        size = "exact size" if self.bucket == 1 else f"padded to multiples of {self.bucket}"
        ensemble = ", x8 self-ensemble" if self.self_ensemble else ""
        dtype = self.config.model.get("dtype", "float32")
        precision = f", {dtype} computation" if dtype != "float32" else ""
        return f"{how}, {size}{ensemble}{precision}"
