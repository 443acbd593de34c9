"""Evaluate a checkpoint on a benchmark folder, or restore your own images.

score (the default subcommand): degrade ground-truth images by the field's protocol
(../shared/CONVENTIONS.md), restore them, print a per-image and mean table beside the classical
baseline (bicubic / noisy input / JPEG input / bilinear demosaic), and with --out write
results.json, results.csv, restored/*.png and figures/*.png.

    python eval.py --checkpoint runs/ignn_tiny_x2 --data ../shared/data/Set5 --out out/set5
    python eval.py score --checkpoint runs/magn_dn25 --data ../shared/data/BSD68 --sigma 25
    python eval.py score --baseline-only --task sr --scale 2 --data ../shared/data/Set5

restore: images without ground truth, any size (tiled), grey or RGB:

    python eval.py restore --checkpoint runs/ignn_x2 photo.png more_photos/ --out restored/
"""
import argparse
import pathlib
import sys

from jaxrestore import evaluate, inference
from jaxrestore.data import io

COMMANDS = ("score", "restore")


def _add_inference_options(parser, tile: int, bucket: int) -> None:
    group = parser.add_argument_group("inference")
    group.add_argument("--self-ensemble", action="store_true",
                       help="average the 8 flips/rotations (x8 self-ensemble)")
    group.add_argument("--tile", type=int, default=tile, metavar="N",
                       help="restore images larger than N input pixels in overlapped N x N "
                            f"tiles; 0 = whole image (default {tile})")
    group.add_argument("--overlap", type=int, default=32, metavar="M",
                       help="pixels shared by neighbouring tiles (default 32)")
    group.add_argument("--bucket", type=int, default=bucket, metavar="B",
                       help="pad inputs to multiples of B pixels so that mixed sizes compile "
                            f"a bounded number of times; 1 = exact sizes (default {bucket})")
    group.add_argument("--batch-size", type=int, default=8,
                       help="largest batch of equal-size images per device call (default 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eval.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{score,restore}")

    score = commands.add_parser(
        "score", help="score a checkpoint (or the baseline) on a folder of ground-truth images",
        description="Degrade, restore and score a folder of ground-truth images. Task "
                    "options default to the checkpoint's stored config.")
    score.add_argument("--checkpoint", metavar="DIR",
                       help="checkpoint directory (or a train.py workdir)")
    score.add_argument("--data", required=True, metavar="PATH",
                       help="folder (searched recursively) or file of ground-truth images")
    score.add_argument("--baseline-only", action="store_true",
                       help="score only the baseline; no checkpoint needed (give --task etc.)")
    score.add_argument("--task", choices=evaluate.TASKS)
    score.add_argument("--scale", type=int, help="SR scale")
    score.add_argument("--sigma", type=float, help="denoising noise level (0-255 scale)")
    score.add_argument("--quality", type=int, help="JPEG quality")
    score.add_argument("--channels", type=int, choices=(1, 3),
                       help="read the images as grey (1) or RGB (3); default: the model's, "
                            "or 3 with --baseline-only")
    score.add_argument("--out", metavar="DIR",
                       help="write results.json, results.csv, restored/ and figures/ here")
    score.add_argument("--figures", type=int, default=3, metavar="K",
                       help="comparison figures for the first K images (default 3)")
    _add_inference_options(score, tile=0, bucket=1)

    restore = commands.add_parser(
        "restore", help="restore images without ground truth",
        description="Restore image files (or folders of them) of any size; outputs are PNGs "
                    "named like the inputs. A demosaicing model takes single-channel RGGB "
                    "mosaics.")
    restore.add_argument("--checkpoint", required=True, metavar="DIR",
                         help="checkpoint directory (or a train.py workdir)")
    restore.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    restore.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _add_inference_options(restore, tile=256, bucket=32)
    return parser


def _restorer_options(args) -> dict:
    return dict(tile=args.tile or None, overlap=args.overlap, bucket=args.bucket,
                batch_size=args.batch_size, self_ensemble=args.self_ensemble)


def _check_exists(path, what: str) -> None:
    if not pathlib.Path(path).exists():
        raise inference.InputError(f"{what} not found: {path}")


def run_score(args) -> None:
    _check_exists(args.data, "data path")
    restorer = None
    if args.checkpoint is None:
        if not args.baseline_only:
            raise inference.InputError("give --checkpoint DIR, or --baseline-only")
        if args.task is None:
            raise inference.InputError("--baseline-only without a checkpoint needs --task")
        protocol = evaluate.Protocol(
            task=args.task, channels=args.channels or 3,
            scale=args.scale or (0 if args.task == "sr" else 1),
            sigma=args.sigma, quality=args.quality)
    else:
        config, variables = inference.load_checkpoint(args.checkpoint)
        protocol = evaluate.protocol_for(config.task, args.task, args.scale, args.sigma,
                                         args.quality)
        if args.channels is not None and args.channels != protocol.channels:
            raise inference.InputError(
                f"the checkpoint's model takes {protocol.channels} channels, not {args.channels}")
        if not args.baseline_only:
            restorer = inference.Restorer(config, variables, **_restorer_options(args))
    results = evaluate.evaluate(
        args.data, protocol, restorer, out_dir=args.out, figure_count=args.figures,
        progress=not args.no_progress, checkpoint=args.checkpoint)
    model_name = restorer.config.model.name if restorer is not None else "ours"
    print(evaluate.format_table(results, model_name=model_name))
    if args.out:
        print(f"wrote results.json, results.csv, restored/ and figures/ to {args.out}")


def run_restore(args) -> None:
    paths = []
    for item in args.images:
        _check_exists(item, "image")
        found = io.list_images(item)
        if not found:
            raise inference.InputError(f"no images found in {item}")
        paths.extend(found)
    restorer = inference.Restorer.from_checkpoint(args.checkpoint, **_restorer_options(args))
    written = evaluate.restore_files(restorer, paths, args.out, progress=not args.no_progress)
    print(f"restored {len(written)} image(s) into {args.out} ({restorer.describe()})")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "score")
    args = build_parser().parse_args(argv)
    try:
        (run_score if args.command == "score" else run_restore)(args)
    except (inference.InputError, io.ImageReadError, FileNotFoundError) as error:
        print(f"eval.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
