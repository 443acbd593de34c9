"""Padding to a multiple, cropping back, and overlapped tiled application of a model.

Host-memory friendly: the full image and the output accumulator are NumPy arrays on the host;
only one tile at a time is handed to `fn` (which may put it on a device). All tiles have the
same size, so a jitted `fn` compiles once.

Blending window (`tile_window`): along each axis, an edge of a tile that lies inside the image
gets a weight that is 0 over the first overlap/4 input pixels, rises linearly over the next
overlap/2 pixels and is 1 beyond; edges on the image border get weight 1. The outer quarter of
every overlap is therefore discarded (tile-edge pixels, which lack context, never count), the
middle half is cross-faded (two neighbours at exactly `overlap` apart sum to 1 there), and every
pixel keeps a positive summed weight. Consequences: one tile covering the image gives fn(x)
exactly; for a function whose output at a point depends only on inputs within overlap/4 pixels,
tiling is exact up to float rounding; for models with wider context, seams are cross-faded.

Composes with the x8 ensemble (jaxrestore.ops.ensemble) and with IGNN's son image, e.g.
    padded, size = pad_to_multiple(x, multiple)
    son = ...  # (N, H/g, W/g, C), computed once from `padded`
    y = tiled_apply(lambda t, **e: self_ensemble(model_fn, t, **e), padded, tile, overlap,
                    scale, son=son)
    y = crop(y, size, scale)
"""
import numpy as np

PAD_MODES = ("reflect", "symmetric", "edge")


def _as_pair(value, name: str):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


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


def _axis_plan(length: int, tile: int, overlap: int, scale: int):
    """[(start, size, window)] for one axis, plus the summed window over the whole output axis."""
    size = min(tile, length)
    starts = tile_starts(length, tile, overlap)
    total = np.zeros(length * scale)
    plan = []
    for start in starts:
        window = tile_window(size, overlap, scale, start > 0, start + size < length)
        total[start * scale : (start + size) * scale] += window
        plan.append((start, size, window))
    return plan, total


def tiled_apply(fn, x: np.ndarray, tile: int, overlap: int, scale: int = 1, **extra_images):
    """Applies fn to overlapping tiles of NHWC x and blends the outputs with `tile_window`.

    fn: (N, t, t, C) [, **extras] -> (N, t*scale, t*scale, C'), with t = min(tile, H) (resp. W).
    x: (N, H, W, C) host array. extra_images: further NHWC inputs of size (H/f, W/f) for an
    integer f (e.g. IGNN's son image, f = graph scale); each tile gets the matching region of
    each (this needs H, W, tile and tile - overlap to be multiples of f).
    Returns a NumPy (N, H*scale, W*scale, C') array (float32 or wider).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected NHWC images, got shape {x.shape}")
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(
            f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}"
        )
    n, h, w = x.shape[:3]
    extra_images = {name: np.asarray(image) for name, image in extra_images.items()}
    factors = {
        name: _extra_factor(name, image, x.shape, tile, overlap)
        for name, image in extra_images.items()
    }
    rows, row_total = _axis_plan(h, tile, overlap, scale)
    cols, col_total = _axis_plan(w, tile, overlap, scale)
    out = None
    for y0, th, wy in rows:
        for x0, tw, wx in cols:
            extras = {
                name: _region(image, factors[name], y0, th, x0, tw)
                for name, image in extra_images.items()
            }
            piece = np.asarray(fn(x[:, y0 : y0 + th, x0 : x0 + tw], **extras))
            if piece.shape[:3] != (n, th * scale, tw * scale):
                raise ValueError(
                    f"fn mapped a tile of shape {(n, th, tw)} to {piece.shape}; expected "
                    f"{(n, th * scale, tw * scale)} (scale={scale})"
                )
            if out is None:
                dtype = np.result_type(piece.dtype, np.float32)
                out = np.zeros((n, h * scale, w * scale, piece.shape[-1]), dtype)
            weight = (wy[:, None] * wx[None, :])[None, :, :, None]
            out[:, y0 * scale : (y0 + th) * scale, x0 * scale : (x0 + tw) * scale] += piece * weight
    out /= (row_total[:, None] * col_total[None, :])[None, :, :, None]
    return out


def _region(image: np.ndarray, f: int, y0: int, th: int, x0: int, tw: int) -> np.ndarray:
    """The part of an f-times smaller image under the tile [y0, y0+th) x [x0, x0+tw) of x."""
    return image[:, y0 // f : (y0 + th) // f, x0 // f : (x0 + tw) // f]


def _extra_factor(name: str, image, x_shape, tile: int, overlap: int) -> int:
    """Integer downscale factor f of an extra image relative to x, with aligned tiles."""
    n, h, w = x_shape[:3]
    eh, ew = np.shape(image)[1:3]
    f = h // eh if eh else 0
    aligned = [h, w] + ([tile, tile - overlap] if tile < max(h, w) else [])
    shape_ok = np.shape(image)[0] == n and f >= 1 and (eh * f, ew * f) == (h, w)
    if not shape_ok or any(v % f for v in aligned):
        raise ValueError(
            f"extra image {name!r} of shape {np.shape(image)} does not tile with x of shape "
            f"{tuple(x_shape)}: need (N, H/f, W/f, .) with H, W, tile and tile - overlap "
            f"multiples of an integer f"
        )
    return f
