"""Evaluate a checkpoint on a benchmark folder, or restore your own images.

score (the default subcommand): degrade ground-truth images by the field's protocol
(../shared/CONVENTIONS.md), restore them, print a per-image and mean table beside the classical
baseline (bicubic / noisy input / JPEG input / bilinear demosaic), and with --out write
results.json, results.csv, restored/*.png and figures/*.png.

    jaxrestore eval --checkpoint runs/ignn_tiny_x2 --data ../shared/data/Set5 --out out/set5
    jaxrestore eval score --checkpoint runs/magn_dn25 --data ../shared/data/BSD68 --sigma 25
    jaxrestore eval score --baseline-only --task sr --scale 2 --data ../shared/data/Set5

restore: images without ground truth, any size (tiled), grey or RGB, alpha kept:

    jaxrestore eval restore --checkpoint runs/ignn_x2 photo.png more_photos/ --out restored/

(`python eval.py ...` is the same tool.)
"""
import argparse
import dataclasses
import sys

from jaxrestore.errors import EXIT_RULE, EXIT_RUNTIME, UserError

COMMANDS = ("score", "restore")
TASK_NAMES = ("sr", "denoise", "jpeg", "demosaic")  # jaxrestore.tasks.TASKS, without importing it


def _add_inference_options(parser, tile: int, bucket: int) -> None:
    group = parser.add_argument_group("inference")
    group.add_argument("--self-ensemble", action="store_true",
                       help="average the 8 flips/rotations (x8 self-ensemble)")
    group.add_argument("--tile", type=int, default=tile, metavar="N",
                       help="restore images larger than N input pixels in overlapped N x N "
                            f"tiles; 0 = whole image (default {tile})")
    group.add_argument("--overlap", type=int, default=32, metavar="M",
                       help="pixels shared by neighbouring tiles (default 32)")
    group.add_argument("--tile-batch", type=int, metavar="T",
                       help="tiles per device call (default 1 on CPU, where batching measured "
                            "no faster, 8 on GPU/TPU)")
    group.add_argument("--bucket", type=int, default=bucket, metavar="B",
                       help="pad inputs to multiples of B pixels so that mixed sizes compile "
                            f"a bounded number of times; 1 = exact sizes (default {bucket})")
    group.add_argument("--batch-size", type=int, default=8,
                       help="largest batch of equal-size images per device call (default 8)")
    group.add_argument("--dtype", choices=("float32", "bfloat16"),
                       help="computation dtype of the model (default: the checkpoint's, "
                            "float32); sensitive parts stay float32 (docs/accelerators.md)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that already exist (never an input file)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser(prog: str = "eval.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_RULE)
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
    score.add_argument("--task", choices=TASK_NAMES)
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
        description="Restore image files (or folders of them) of any size into PNGs: a folder's "
                    "images keep their paths below it, other files their names. Grey and colour "
                    "images keep their mode; an alpha channel is carried through. A file that "
                    "cannot be read or restored is reported and skipped (exit status 1). A "
                    "demosaicing model takes single-channel RGGB mosaics.")
    restore.add_argument("--checkpoint", required=True, metavar="DIR",
                         help="checkpoint directory (or a train.py workdir)")
    restore.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    restore.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _add_inference_options(restore, tile=256, bucket=32)
    return parser


def _restorer_options(args) -> dict:
    return dict(tile=args.tile or None, overlap=args.overlap, bucket=args.bucket,
                batch_size=args.batch_size, tile_batch=args.tile_batch,
                self_ensemble=args.self_ensemble, dtype=args.dtype)


def _check_options(args) -> None:
    for name in ("tile", "overlap", "bucket", "batch_size", "tile_batch"):
        if (getattr(args, name) or 0) < 0:
            raise UserError(f"--{name.replace('_', '-')} must not be negative")


def run_score(args) -> int:
    from jaxrestore import evaluate, reports, tasks
    from jaxrestore.data import io
    from jaxrestore.errors import InputError
    from jaxrestore.inference import Restorer, load_checkpoint
    from jaxrestore.models import display_name

    if args.out is not None:
        reports.check_output_folder(args.out, args.overwrite)
        io.check_writable_folder(args.out)
    listed = evaluate.FolderImages(args.data, 3)  # a bad --data fails before the model loads
    restorer = None
    if args.checkpoint is None:
        if not args.baseline_only:
            raise InputError("give --checkpoint DIR, or --baseline-only with --task")
        if args.task is None:
            raise InputError("--baseline-only without a checkpoint needs --task")
        task = tasks.make_task(args.task, channels=args.channels or 3, scale=args.scale or 0,
                               sigma=args.sigma, quality=args.quality)
    else:
        config, variables = load_checkpoint(args.checkpoint)
        trained = tasks.task_from_config(config.task)
        if args.task is not None and args.task != trained.name:
            raise InputError(f"the checkpoint restores {trained.name!r}, not --task {args.task}")
        if args.scale is not None and trained.scale > 1 and args.scale != trained.scale:
            raise InputError(f"the checkpoint is for SR x{trained.scale}, not --scale "
                             f"{args.scale}")
        for flag, value, field, applies in (("--scale", args.scale, "scale", "sr"),
                                            ("--sigma", args.sigma, "sigma", "denoise"),
                                            ("--quality", args.quality, "quality", "jpeg")):
            if value is not None and field not in {f.name for f in dataclasses.fields(trained)}:
                raise InputError(f"{flag} is for {applies} checkpoints; this one restores "
                                 f"{trained.name!r}")
        task = trained.at_level(args.sigma if args.sigma is not None else args.quality)
        if args.channels is not None and args.channels != task.channels:
            raise InputError(f"the checkpoint's model takes {task.channels} channels, not "
                             f"--channels {args.channels}")
        if not args.baseline_only:
            restorer = Restorer(config, variables, **_restorer_options(args))
    images = evaluate.FolderImages(listed.paths, task.channels)
    tiled = []

    def restore(x):
        tiled.append(restorer.is_tiled(x))
        return restorer.restore([x], progress=not args.no_progress)[0]

    writer = reports.ImageWriter(args.out, task, args.figures) if args.out else None
    try:
        results = evaluate.evaluate(images, task, restore if restorer else None,
                                    on_image=writer, progress=not args.no_progress)
    except OSError as error:
        raise io.write_failure(error, writer.written if writer else []) from None
    model_name = display_name(restorer.config.model) if restorer is not None else "ours"
    results = {"protocol": reports.header(task, args.data, args.checkpoint,
                                          restorer.describe() if restorer else None, sum(tiled),
                                          model_name if restorer else None),
               **results}
    print(reports.format_table(results, model_name=model_name))
    if args.out:
        try:
            reports.write_results(results, args.out)
        except OSError as error:
            raise io.write_failure(error, writer.written) from None
        print(f"wrote results.json, results.csv{', restored/' if restorer else ''} and "
              f"figures/ to {args.out}")
    return 0


def run_restore(args) -> int:
    from jaxrestore.data import io
    from jaxrestore.inference import Restorer
    from jaxrestore.restore_files import plan_outputs, restore_files

    plan, ignored = plan_outputs(args.images, args.out, args.overwrite)
    io.check_writable_folder(args.out)
    restorer = Restorer.from_checkpoint(args.checkpoint, **_restorer_options(args))
    written, failed = restore_files(restorer, plan, progress=not args.no_progress)
    print(f"restored {len(written)} of {len(plan)} image(s) into {args.out} "
          f"({restorer.describe()})" + (f"; {len(failed)} skipped (listed above)"
                                        if failed else "") + _ignored_summary(ignored))
    return EXIT_RUNTIME if failed else 0


def _ignored_summary(ignored, shown: int = 3) -> str:
    """'; ignored N file(s) in the input folders: a (why), ...' naming the first `shown`."""
    if not ignored:
        return ""
    names = ", ".join(f"{path} ({why})" for path, why in ignored[:shown])
    more = f" and {len(ignored) - shown} more" if len(ignored) > shown else ""
    return f"; ignored {len(ignored)} file(s) in the input folders: {names}{more}"


def main(argv=None, prog: str = "eval.py") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "score")
    args = build_parser(prog).parse_args(argv)
    try:
        _check_options(args)
        return (run_score if args.command == "score" else run_restore)(args)
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        print(f"{prog}: interrupted" + (f"; {interrupt}" if interrupt.args else ""),
              file=sys.stderr)
        return 130
