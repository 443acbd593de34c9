"""Padding to a multiple, cropping back, and overlapped tiles blended with a weight map.

`plan_tiles` says where the tiles of an image lie and how their outputs are weighted;
`tiled_apply` runs a function tile by tile on the host with that plan (the plain reference
path), and `jaxrestore.inference.Restorer` runs the same plan with tiles batched on the device.
All tiles of one image have the same size, so a jitted function compiles once per tile size.

Blending window (`tile_window`): along each axis, an edge of a tile that lies inside the image
gets a weight that is 0 over the first overlap/4 input pixels, rises linearly over the next
overlap/2 pixels and is 1 beyond; edges on the image border get weight 1. The outer quarter of
every overlap is therefore discarded (tile-edge pixels, which lack context, never count), the
middle half is cross-faded (two neighbours at exactly `overlap` apart sum to 1 there), and every
pixel keeps a positive summed weight. Consequences: one tile covering the image gives fn(x)
exactly; for a function whose output at a point depends only on inputs within overlap/4 pixels,
tiling is exact up to float rounding; for models with wider context, seams are cross-faded.
"""
import dataclasses

import numpy as np

PAD_MODES = ("reflect", "symmetric", "edge")


def _as_pair(value, name: str):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def row_bands(height: int, rows: int = 256) -> list:
    """Slices of at most `rows` rows covering [0, height): for work on a large image band by
    band, so that temporaries stay a band's size."""
    return [slice(start, min(start + rows, height)) for start in range(0, height, rows)]


def pad_to_multiple(x: np.ndarray, multiple, mode: str = "reflect"):
    """Pads NHWC x at the bottom and right so H and W are multiples of `multiple` (int or (mh, mw)).

    mode: 'reflect' (mirror without repeating the edge), 'symmetric' (edge repeated) or 'edge'.
    Returns (padded, (h, w)) with the original size for `crop`.
    """
    if x.ndim != 4:
        raise ValueError(f"expected NHWC images, got shape {x.shape}")
    if mode not in PAD_MODES:
        raise ValueError(f"unknown pad mode {mode!r}; known: {', '.join(PAD_MODES)}")
    mh, mw = _as_pair(multiple, "multiple")
    h, w = x.shape[1:3]
    pad = ((0, 0), (0, -h % mh), (0, -w % mw), (0, 0))
    return np.pad(x, pad, mode=mode), (h, w)


def crop(y: np.ndarray, size, scale: int = 1) -> np.ndarray:
    """Crops NHWC y (the output of a x`scale` model on a padded input) back to size*scale."""
    h, w = size
    return y[:, : h * scale, : w * scale]


def tile_starts(length: int, tile: int, overlap: int):
    """Starts of tiles of size min(tile, length) covering [0, length); the last one is flush."""
    if tile >= length:
        return [0]
    stride = tile - overlap
    return list(range(0, length - tile, stride)) + [length - tile]


def tile_window(size: int, overlap: int, scale: int, inner_before: bool, inner_after: bool):
    """1-D weights (size*scale,) of one tile's output; ramps only on edges inside the image."""
    centres = (np.arange(size * scale) + 0.5) / scale  # output pixel centres, input units
    weight = np.ones(size * scale)
    if overlap == 0:
        return weight

    def ramp(distance):
        return np.clip((distance - overlap / 4) / (overlap / 2), 0.0, 1.0)

    if inner_before:
        weight *= ramp(centres)
    if inner_after:
        weight *= ramp(size - centres)
    return weight


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """The tiles of an (height, width) image and the blending of their x`scale` outputs.

    tile_hw: (th, tw), every tile's input size. starts: [(y0, x0)] of each tile, row-major.
    windows: per tile, the (th*s,) row and (tw*s,) column weights (`tile_window`).
    row_total, col_total: (height*s,) and (width*s,) summed 1-D weights; their outer product
    `total` (height*s, width*s) is the summed weight of all tiles, positive everywhere.
    """

    height: int
    width: int
    scale: int
    tile_hw: tuple
    starts: list
    windows: list
    row_total: np.ndarray
    col_total: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """(height*s, width*s) summed weight of all tiles."""
        return self.row_total[:, None] * self.col_total[None, :]

    def __len__(self) -> int:
        return len(self.starts)

    def crop_tiles(self, x: np.ndarray, indices) -> np.ndarray:
        """The input tiles `indices` of x (..., height, width, C) → (len, ..., th, tw, C)."""
        th, tw = self.tile_hw
        return np.stack([x[..., y0:y0 + th, x0:x0 + tw, :]
                         for y0, x0 in (self.starts[i] for i in indices)])

    def weight(self, index: int) -> np.ndarray:
        """The (th*s, tw*s, 1) weight map of tile `index`'s output."""
        wy, wx = self.windows[index]
        return (wy[:, None] * wx[None, :])[..., None]

    def add(self, out: np.ndarray, index: int, weighted: np.ndarray) -> None:
        """Adds tile `index`'s weighted output (..., th*s, tw*s, C) into `out` in place."""
        (y0, x0), s = self.starts[index], self.scale
        th, tw = self.tile_hw
        out[..., y0 * s:(y0 + th) * s, x0 * s:(x0 + tw) * s, :] += weighted

    def normalise(self, out: np.ndarray) -> np.ndarray:
        """Divides the summed weighted outputs (..., height*s, width*s, C) by the summed weights,
        in place and band by band (no image-sized temporary); returns out."""
        for band in row_bands(out.shape[-3]):
            out[..., band, :, :] /= (self.row_total[band, None] * self.col_total[None, :])[..., None]
        return out


def plan_tiles(height: int, width: int, tile: int, overlap: int, scale: int = 1) -> TilePlan:
    """The `TilePlan` of overlapped tile×tile windows (overlap pixels shared, the last window
    flush with the border; a side shorter than `tile` is one tile of its length)."""
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(
            f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")

    def axis(length):
        size = min(tile, length)
        starts = tile_starts(length, tile, overlap)
        windows = [tile_window(size, overlap, scale, start > 0, start + size < length)
                   for start in starts]
        total = np.zeros(length * scale)
        for start, window in zip(starts, windows):
            total[start * scale:(start + size) * scale] += window
        return size, starts, windows, total

    th, rows, row_windows, row_total = axis(height)
    tw, cols, col_windows, col_total = axis(width)
    return TilePlan(height, width, scale, (th, tw),
                    [(y0, x0) for y0 in rows for x0 in cols],
                    [(wy, wx) for wy in row_windows for wx in col_windows],
                    row_total, col_total)


def tiled_apply(fn, x: np.ndarray, tile: int, overlap: int, scale: int = 1) -> np.ndarray:
    """Applies fn to overlapping tiles of NHWC x, one at a time, and blends the outputs.

    fn: (N, th, tw, C) -> (N, th*scale, tw*scale, C'), with (th, tw) = the plan's tile size.
    x: (N, H, W, C) host array. Returns a NumPy (N, H*scale, W*scale, C') array (float32 or
    wider).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected NHWC images, got shape {x.shape}")
    n, h, w = x.shape[:3]
    plan = plan_tiles(h, w, tile, overlap, scale)
    th, tw = plan.tile_hw
    out = None
    for index in range(len(plan)):
        piece = np.asarray(fn(plan.crop_tiles(x, [index])[0]))
        if piece.shape[:3] != (n, th * scale, tw * scale):
            raise ValueError(
                f"fn mapped a tile of shape {(n, th, tw)} to {piece.shape}; expected "
                f"{(n, th * scale, tw * scale)} (scale={scale})")
        if out is None:
            dtype = np.result_type(piece.dtype, np.float32)
            out = np.zeros((n, h * scale, w * scale, piece.shape[-1]), dtype)
        plan.add(out, index, piece * plan.weight(index))
    return plan.normalise(out)
