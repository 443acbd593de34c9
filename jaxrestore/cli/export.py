"""`jaxrestore export`: a checkpoint's restorer as files that run without jaxrestore
(`jaxrestore.export`: what the artifacts take and give, and how to run them)."""
import argparse
import pathlib
import sys

from jaxrestore.errors import EXIT_RULE, EXIT_RUNTIME, UserError


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 256x256, not {text!r}")
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return height, width


def build_parser(prog: str) -> argparse.ArgumentParser:
    from jaxrestore import export
    parser = argparse.ArgumentParser(prog=prog, description=export.__doc__, epilog=EXIT_RULE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="DIR",
                        help="checkpoint directory (or a train.py workdir)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the artifacts")
    parser.add_argument("--format", choices=("jax", "onnx"), default="jax",
                        help="jax: jax.export artifacts (default); onnx: ONNX models (needs "
                             "jax2onnx; CPU graph, --platforms does not apply)")
    parser.add_argument("--size", type=_size, action="append", default=[], metavar="HxW",
                        help="input size of a fixed-size artifact (repeat for several)")
    parser.add_argument("--batch", type=int, default=1, help="batch of fixed-size artifacts")
    parser.add_argument("--platforms", default="cpu",
                        help=f"comma separated, of {', '.join(export.PLATFORMS)} (default cpu)")
    parser.add_argument("--self-ensemble", action="store_true", help="x8 self-ensemble inside")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing manifest")
    return parser


def _check(args) -> pathlib.Path:
    from jaxrestore.export import MANIFEST
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"output folder {out} is an existing file")
    if (out / MANIFEST).exists() and not args.overwrite:
        raise UserError(f"{out} already holds an export; choose another folder or allow "
                        "overwriting (--overwrite)")
    if args.batch < 1:
        raise UserError("the batch must be at least 1")
    if args.format == "onnx" and args.platforms != "cpu":
        raise UserError("--platforms applies to --format jax only (ONNX runtimes choose their "
                        "own device)")
    return out


def _fail(prog: str, error, status: int) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return status


def main(argv=None, prog: str = "jaxrestore export") -> int:
    from jaxrestore import export
    from jaxrestore.inference import load_checkpoint
    args = build_parser(prog).parse_args(argv)
    platforms = tuple(p.strip() for p in args.platforms.split(",") if p.strip())
    try:
        out = _check(args)
        config, variables = load_checkpoint(args.checkpoint)
        if args.format == "onnx":
            platforms = ()
            exported = export.export_onnx(config, variables, args.size, args.batch,
                                          args.self_ensemble)
        else:
            exported = export.export_restorer(config, variables, args.size, args.batch,
                                              platforms, args.self_ensemble)
    except UserError as error:
        return _fail(prog, error, error.exit_code)
    try:
        export.write(exported, out, config, platforms, args.self_ensemble)
    except OSError as error:
        return _fail(prog, f"cannot write {out}: {error}", EXIT_RUNTIME)
    for name, artifact in exported.items():
        print(f"wrote {out / name}: input {export.input_shape(artifact)}"
              + (f" for {', '.join(platforms)}" if platforms else " (ONNX)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
