"""Side-by-side comparison figures (Pillow only): labelled panels, each with a zoomed crop below.

    figure = side_by_side([("input", lr_up), ("bicubic", bicubic), ("ours", sr), ("GT", hr)],
                          box=worst_box(bicubic, hr))
    figure.save("figure.png")
"""
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

_LABEL_HEIGHT = 18
_GAP = 4
_BOX_COLOUR = (255, 32, 32)


def worst_box(estimate: np.ndarray, target: np.ndarray, size: int | None = None):
    """(top, left, size) of the square window where `estimate` is furthest from `target`.

    estimate, target: HxWxC (or HxW) arrays of one range. `size` defaults to a quarter of the
    shorter side (at least 8 px, at most the image). Mean absolute error via an integral image.
    """
    error = np.abs(np.asarray(estimate, np.float64) - np.asarray(target, np.float64))
    if error.ndim == 3:
        error = error.mean(axis=-1)
    h, w = error.shape
    size = min(h, w, size or max(8, min(h, w) // 4))
    integral = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (integral[size:, size:] - integral[:-size, size:]
            - integral[size:, :-size] + integral[:-size, :-size])
    top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return int(top), int(left), int(size)


def _to_rgb(image: np.ndarray) -> Image.Image:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8:
        raise ValueError(f"figure panels must be uint8, got {image.dtype}")
    return Image.fromarray(image).convert("RGB")


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], box=None,
                 panel_width: int = 320) -> Image.Image:
    """A figure with one column per (label, uint8 HxWxC image) panel, all of one size.

    Each column: the label, the image scaled to `panel_width` (Lanczos, display only) with the
    crop `box` = (top, left, size) outlined, and below it that crop zoomed to `panel_width`
    with nearest-neighbour pixels. box=None: no crop row.
    """
    shapes = {np.shape(image)[:2] for _, image in panels}
    if len(shapes) != 1:
        raise ValueError(f"figure panels differ in size: {sorted(shapes)}")
    (h, w), = shapes
    panel_height = max(1, round(h * panel_width / w))
    zoom_height = panel_width if box is not None else 0
    height = _LABEL_HEIGHT + panel_height + (zoom_height + _GAP if box is not None else 0)
    figure = Image.new("RGB", (len(panels) * (panel_width + _GAP) - _GAP, height), "white")
    draw = ImageDraw.Draw(figure)
    for column, (label, image) in enumerate(panels):
        x0 = column * (panel_width + _GAP)
        rgb = _to_rgb(image)
        draw.text((x0 + 2, 2), label, fill="black")
        figure.paste(rgb.resize((panel_width, panel_height), Image.LANCZOS), (x0, _LABEL_HEIGHT))
        if box is None:
            continue
        top, left, size = box
        f = panel_width / w
        draw.rectangle(
            [x0 + left * f, _LABEL_HEIGHT + top * f,
             x0 + (left + size) * f, _LABEL_HEIGHT + (top + size) * f],
            outline=_BOX_COLOUR, width=2,
        )
        crop = rgb.crop((left, top, left + size, top + size))
        figure.paste(crop.resize((panel_width, panel_width), Image.NEAREST),
                     (x0, _LABEL_HEIGHT + panel_height + _GAP))
    return figure
