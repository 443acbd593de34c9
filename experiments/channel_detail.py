"""Channel detail: does a colour restoration give its channels the fine detail the truth has?

    python experiments/channel_detail.py --restored runs/x/eval/McMaster/restored \
        --data ../shared/data/McMaster

prints one JSON line per image found under the same name in both folders, then one line with
the means ("image": "mean"): {"image", "detail_truth", "detail_restored", "detail_corr_truth",
"detail_corr_restored"}. A channel's detail is its 5-point Laplacian (0..255 units, interior
pixels); `detail_*` is its mean square per channel (R, G, B), `detail_corr_*` the Pearson
correlation of the Laplacians of R with G and of B with G. A restoration whose detail
correlations are near 1 where the truth's are low has given every channel the same fine
detail; its excess detail energy is false detail. (docs/results.md, Tasks: the learned
demosaicer on McMaster.)
Exit status: 0, 2 (a usage mistake: no RGB image pairs, an unreadable file) with one line.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from jaxrestore.data.io import list_images, read_image  # noqa: E402
from jaxrestore.errors import UserError  # noqa: E402


def laplacian(image: np.ndarray) -> np.ndarray:
    """(H, W, C) → (H-2, W-2, C) float64: 4·x[i, j] minus its four neighbours."""
    x = np.asarray(image, np.float64)
    return (4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def channel_detail(image: np.ndarray) -> dict:
    """RGB (H, W, 3) → {"energy": [R, G, B] mean square Laplacian, "corr": [R·G, B·G]}."""
    lap = laplacian(image)
    return {"energy": [float(e) for e in (lap ** 2).mean(axis=(0, 1))],
            "corr": [_correlation(lap[..., 0], lap[..., 1]),
                     _correlation(lap[..., 2], lap[..., 1])]}


def compare(restored_folder, truth_folder):
    """Yields one row (module doc) per image name present in both folders, then the means."""
    truths = {path.stem: path for path in list_images(truth_folder)}
    pairs = [(path.stem, path, truths[path.stem]) for path in list_images(restored_folder)
             if path.stem in truths]
    if not pairs:
        raise UserError(f"no image of {restored_folder} has a namesake in {truth_folder}")
    rows = []
    for name, restored_path, truth_path in pairs:
        truth, restored = channel_detail(read_image(truth_path, 3)), \
            channel_detail(read_image(restored_path, 3))
        rows.append({"image": name, "detail_truth": truth["energy"],
                     "detail_restored": restored["energy"],
                     "detail_corr_truth": truth["corr"], "detail_corr_restored": restored["corr"]})
        yield rows[-1]
    yield {"image": "mean", **{key: np.mean([row[key] for row in rows], axis=0).tolist()
                               for key in rows[0] if key != "image"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restored", required=True, help="folder of restored images")
    parser.add_argument("--data", required=True, help="folder of ground-truth images")
    args = parser.parse_args(argv)
    try:
        for row in compare(args.restored, args.data):
            print(json.dumps({key: value if isinstance(value, str) else
                              [round(v, 4) for v in value] for key, value in row.items()}))
    except UserError as error:
        print(f"channel_detail: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
