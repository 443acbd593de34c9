"""Inference API: a checkpoint → a jit-compiled restorer for images of any size and number.

    restorer = Restorer.from_checkpoint("runs/ignn_tiny_x2", tile=256, self_ensemble=True)
    outputs = restorer.restore([image_a, image_b])   # HxWxC uint8 or float in [0, 1]

Inputs are what the model of `config.task` takes (see configs/common.py): the LR image for SR,
the noisy / JPEG image for denoising / JPEG, the 3-channel masked RGGB mosaic for demosaicing,
with `config.task.channels` channels (a grey HxW array counts as one channel). Outputs are
float32 HxWxC in [0, 1] (clamped), `scale` times larger for SR.

How an image reaches the model:

1. Tiling. With `tile` set, an image larger than `tile` in height or width goes through
   `jaxrestore.ops.tiling.tiled_apply`: overlapped `tile`x`tile` windows (`overlap` pixels
   shared, the last window flush with the border), outputs blended with a weight map. The full
   image and the output accumulator stay in host memory; only one tile is on the device at a
   time. IGNN's son image is computed by the model from each LR tile (the model's own
   `son=None` path), so LR and son tiles are always consistent. Tiled outputs differ from
   whole-image outputs near tile seams (see tests/test_inference.py for the measured size);
   an image that fits in one tile is processed exactly as without tiling. Device memory is
   set by the tile, not the image: the full IGNN x2 with 256-pixel tiles peaked at 3.8 GB
   resident on CPU (measured with /usr/bin/time -v).
2. Size buckets. Each (tile or whole) image is padded with reflection at the bottom and right
   up to the next multiple of `bucket` in height and width, restored, and cropped back.
   Reflection keeps a Bayer mosaic's RGGB phase. Up to `batch_size` equal-bucket images are
   stacked into one batch, its size rounded up to a power of two (missing entries are zeros
   and are dropped). `bucket=1` means exact sizes (the whole-image protocol of the papers).
3. Self-ensemble (x8): `jaxrestore.ops.ensemble.self_ensemble` inside the same jitted
   function, so it adds no compilation; each dihedral copy of IGNN's LR gets its own son.

Compilation bound: the jitted forward is traced once per distinct (batch, height, width). With
`tile = T` (a multiple of `bucket = b`), heights and widths are multiples of b up to T, so
a stream of images of any sizes compiles at most (T/b)² × (⌈log2 batch_size⌉ + 1) times; with
`tile=None`, once per distinct bucketed (batch, size). `Restorer.traces` counts the traces.
"""
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from jaxrestore import checkpoints, metrics
from jaxrestore.models import apply_unit_range, build_model
from jaxrestore.ops.ensemble import self_ensemble
from jaxrestore.ops.tiling import pad_to_multiple, tile_starts, tiled_apply


class InputError(ValueError):
    """A user mistake (bad image, bad option, task mismatch): reported as one line."""


class CheckpointError(InputError):
    """A checkpoint directory that is missing, empty or unreadable."""


def load_checkpoint(directory):
    """(config, variables) from a checkpoint directory, or from a train.py workdir (its
    `checkpoints/` subfolder); latest step. Every failure is a CheckpointError."""
    path = pathlib.Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {directory}")
    if (path / "checkpoints").is_dir():
        path = path / "checkpoints"
    try:
        return checkpoints.load_for_inference(path)
    except Exception as error:  # orbax raises many types for a damaged directory
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"cannot read checkpoint {directory}: {first_line}") from error


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _batch_bucket(n: int) -> int:
    """Smallest power of two ≥ n."""
    return 1 << (n - 1).bit_length()


class Restorer:
    """A model and its weights, ready to restore host images (see the module docstring).

    Attributes:
      config: the run config (`model` builds the network, `task` says what it restores).
      scale: output size / input size (the SR scale, 1 for other tasks).
      channels: channels of the model's input images.
      traces: how many times the jitted forward has been traced (= compiled).
    """

    def __init__(self, config, variables, *, tile: int | None = None, overlap: int = 32,
                 bucket: int = 32, batch_size: int = 8, self_ensemble: bool = False):
        task = config.task
        self.config = config
        self.scale = int(task.scale) if task.name == "sr" else 1
        self.channels = 3 if task.name == "demosaic" else int(task.channels)
        if bucket < 1 or batch_size < 1:
            raise InputError("bucket and batch_size must be positive")
        if tile is not None:
            if tile < bucket or tile % bucket:
                raise InputError(f"tile ({tile}) must be a positive multiple of bucket ({bucket})")
            if not 0 <= overlap < tile:
                raise InputError(f"overlap ({overlap}) must be in [0, tile={tile})")
            if task.name == "demosaic" and (tile % 2 or overlap % 2):
                raise InputError("demosaicing needs an even tile and overlap (RGGB phase)")
        if self_ensemble and task.name == "demosaic":
            raise InputError("self-ensemble would change the Bayer pattern; not for demosaicing")
        self.tile, self.overlap, self.bucket = tile, overlap, bucket
        self.batch_size = batch_size
        self.self_ensemble = self_ensemble
        self.traces = 0
        self._module = build_model(config.model)
        self._pixel_range = float(config.model.pixel_range)
        self._variables = jax.device_put(variables)
        self._forward = jax.jit(self._forward_impl)

    @classmethod
    def from_checkpoint(cls, directory, **options) -> "Restorer":
        """Restorer for the latest step of a checkpoint directory; options as for __init__."""
        config, variables = load_checkpoint(directory)
        try:
            return cls(config, variables, **options)
        except InputError:
            raise
        except Exception as error:
            raise CheckpointError(f"cannot build the model of {directory}: {error}") from error

    def _forward_impl(self, variables, x):
        """(B, h, w, C) in [0, 1] → (B, h*s, w*s, C') in [0, 1]; traced once per shape."""
        self.traces += 1

        def model(images):
            return apply_unit_range(self._module, variables, images, self._pixel_range)

        return self_ensemble(model, x) if self.self_ensemble else model(x)

    def _forward_host(self, x: np.ndarray) -> np.ndarray:
        """Bucket-padded host images (n, H, W, C) → host outputs; the batch rounded up to 2^k."""
        n = x.shape[0]
        batch = _batch_bucket(n)
        if batch > n:
            x = np.concatenate([x, np.zeros((batch - n,) + x.shape[1:], x.dtype)])
        return np.asarray(self._forward(self._variables, jnp.asarray(x, jnp.float32)))[:n]

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Equal-size host images (n, h, w, C) → (n, h*s, w*s, C'), padded to the bucket."""
        _, h, w, _ = x.shape
        padded, _ = pad_to_multiple(x, self.bucket, mode="reflect")
        return self._forward_host(padded)[:, : h * self.scale, : w * self.scale]

    def _needs_tiling(self, shape) -> bool:
        return self.tile is not None and (shape[0] > self.tile or shape[1] > self.tile)

    def is_tiled(self, image) -> bool:
        """Whether `image` (HxWxC) is restored tile by tile."""
        return self._needs_tiling(np.shape(image))

    def _restore_tiled(self, x: np.ndarray, progress: bool) -> np.ndarray:
        """One large host image (H, W, C) → (H*s, W*s, C'), tile by tile."""
        h, w, _ = x.shape
        if self.config.task.name == "demosaic":  # tiles must start on even rows/columns
            x, _ = pad_to_multiple(x[None], 2, mode="reflect")
            x = x[0]
        count = len(tile_starts(x.shape[0], self.tile, self.overlap)) * len(
            tile_starts(x.shape[1], self.tile, self.overlap))
        with tqdm(total=count, desc="tiles", unit="tile", leave=False, disable=not progress,
                  file=sys.stderr) as bar:
            def run(tile):
                out = self._run(tile)
                bar.update()
                return out

            y = tiled_apply(run, x[None], self.tile, self.overlap, self.scale)
        return np.asarray(y)[0, : h * self.scale, : w * self.scale]

    def prepare(self, image) -> np.ndarray:
        """An HxW / HxWxC uint8, uint16 or float [0, 1] image → float32 HxWxC in [0, 1]."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3:
            raise InputError(f"expected an HxW or HxWxC image, got shape {image.shape}")
        if image.shape[-1] != self.channels:
            raise InputError(
                f"image has {image.shape[-1]} channels; the {self.config.task.name} model takes "
                f"{self.channels}"
            )
        if image.dtype == np.uint8:
            return image.astype(np.float32) / 255.0
        if image.dtype == np.uint16:
            return image.astype(np.float32) / 65535.0
        if np.issubdtype(image.dtype, np.floating):
            return image.astype(np.float32)
        raise InputError(f"unsupported image dtype {image.dtype} (use uint8, uint16 or float)")

    def restore(self, images, progress: bool = False):
        """Restores a list of images (or an (N, H, W, C) array); see the module docstring.

        Returns a list of float32 (H*s, W*s, C') arrays in [0, 1] (an array for an array).
        progress: a progress bar over the tiles of each tiled image (stderr).
        """
        as_array = isinstance(images, np.ndarray | jax.Array) and np.ndim(images) == 4
        prepared = [self.prepare(image) for image in images]
        outputs = [None] * len(prepared)
        groups = {}  # bucketed (H, W) → indices of the images that pad to it
        for index, image in enumerate(prepared):
            if self._needs_tiling(image.shape):
                outputs[index] = self._restore_tiled(image, progress)
            else:
                key = tuple(_round_up(n, self.bucket) for n in image.shape[:2])
                groups.setdefault(key, []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                padded = [pad_to_multiple(prepared[i][None], self.bucket, mode="reflect")[0]
                          for i in chunk]
                restored = self._forward_host(np.concatenate(padded))
                for i, output in zip(chunk, restored):
                    h, w, _ = prepared[i].shape
                    outputs[i] = output[: h * self.scale, : w * self.scale]
        outputs = [np.clip(output, 0.0, 1.0) for output in outputs]
        return np.stack(outputs) if as_array else outputs

    def max_compilations(self) -> float:
        """The documented bound on traces for any stream of images (inf without tiling)."""
        if self.tile is None:
            return math.inf
        per_side = -(-self.tile // self.bucket)
        return per_side**2 * (math.ceil(math.log2(self.batch_size)) + 1)

    def describe(self) -> str:
        """One line naming the inference protocol (tiled or whole image, ensemble, buckets)."""
        if self.tile is None:
            how = "whole image"
        else:
            how = f"tiles of {self.tile} px with {self.overlap} px overlap for larger images"
        size = "exact size" if self.bucket == 1 else f"padded to multiples of {self.bucket}"
        ensemble = ", x8 self-ensemble" if self.self_ensemble else ""
        return f"{how}, {size}{ensemble}"


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8, or float in [0, 1] → uint8 HxWxC exactly as the metrics round it."""
    return metrics.to_uint8_scale(image).astype(np.uint8)

