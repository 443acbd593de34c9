"""`jaxrestore convert [ARCH] FILE OUT`: released PyTorch weights → a jaxrestore checkpoint.

    jaxrestore convert kair_dncnn_25/dncnn_25.pth ckpt/dncnn_25 --licence kair_dncnn_25/LICENSE
    jaxrestore convert ignn IGNN_x2.pth ckpt/ignn_x2 [--config ignn_x2]
    jaxrestore convert weights.pth weights.safetensors      # same tensors, no pickle

FILE: a state dict as `.pth`/`.pt` (torch's zip or legacy layout, read without torch; a pickle
that asks for anything but tensors is refused and nothing of it runs), `.safetensors` or
`.npz`. The architecture is detected from the keys and shapes (ARCH forces one; the table is
`jaxrestore.architectures`). OUT: a new checkpoint directory whose config records the source
file's sha256 and the licence text given; or a `.safetensors` file of the state dict as read.
"""
import argparse
import pathlib
import sys

from jaxrestore.errors import EXIT_RULE, EXIT_RUNTIME, UserError


class UsageError(UserError):
    """The command line itself is wrong (exit status 2)."""


def build_parser(prog: str) -> argparse.ArgumentParser:
    from jaxrestore.architectures import ARCHITECTURES
    parser = argparse.ArgumentParser(
        prog=prog, usage=f"{prog} [ARCH] FILE OUT [options]", description=__doc__,
        epilog=EXIT_RULE + ". ARCH: " + "; ".join(
            f"{a.name}: {a.title}" for a in ARCHITECTURES),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="[ARCH] FILE OUT", help=argparse.SUPPRESS)
    parser.add_argument("--sigma", type=float,
                        help="noise level of a denoiser on the 0..255 scale (default: the "
                             "number at the end of the file name, as in dncnn_25.pth)")
    parser.add_argument("--bn-eps", type=float, default=1e-5,
                        help="epsilon of separate batch norms (default 1e-5, PyTorch's; KAIR "
                             "trained with 1e-4)")
    parser.add_argument("--licence", metavar="FILE",
                        help="licence of the weights, stored with the checkpoint")
    parser.add_argument("--config", help="IGNN: config file to store (its model section must "
                                         "match the weights; default: inferred)")
    return parser


def _check(args):
    """(architecture or None, input path, output path, Options, licence text); UsageError for
    a wrong command line."""
    from jaxrestore import configs
    from jaxrestore.architectures import BY_NAME, Options
    if len(args.paths) not in (2, 3):
        raise UsageError("expected [ARCH] FILE OUT")
    architecture = args.paths[0] if len(args.paths) == 3 else None
    if architecture is not None and architecture not in BY_NAME:
        raise UsageError(f"unknown architecture {architecture!r}; known: {', '.join(BY_NAME)}")
    source, output = (pathlib.Path(p) for p in args.paths[-2:])
    if not source.is_file():
        raise UsageError(f"weights file not found: {source}")
    if output.suffix == ".safetensors" and output.exists():
        raise UsageError(f"{output} already exists")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"{output} already exists and is not an empty directory")
    if args.licence and not pathlib.Path(args.licence).is_file():
        raise UsageError(f"licence file not found: {args.licence}")
    if (args.sigma is not None and args.sigma < 0) or args.bn_eps <= 0:
        raise UsageError("--sigma must not be negative and --bn-eps must be positive")
    config = configs.load(args.config) if args.config else None
    licence = pathlib.Path(args.licence).read_text(errors="replace") if args.licence else None
    return architecture, source, output, Options(args.sigma, args.bn_eps, config), licence


def _to_safetensors(source, output, licence) -> str:
    from jaxrestore.weights.state_dict import file_sha256, load_state_dict, save_safetensors
    state = load_state_dict(source)
    metadata = {"source": source.name, "sha256": file_sha256(source)}
    save_safetensors(output, state, metadata | ({"licence": licence} if licence else {}))
    return f"wrote {output}: {len(state)} tensors of {source.name}"


def _to_checkpoint(architecture, source, output, options, licence) -> str:
    import jax
    from jaxrestore.architectures import convert_file
    from jaxrestore.checkpoints import save_for_inference
    config, variables, chosen = convert_file(source, architecture, options, licence)
    save_for_inference(output, config, variables)
    count = sum(leaf.size for leaf in jax.tree.leaves(variables))
    from jaxrestore.tasks import task_from_config
    what = task_from_config(config.task).describe().partition(":")[0]  # e.g. 'sr x2'
    if "sigma" in config.task and options.sigma is None:
        what += " (from the file name; --sigma sets it)"
    return (f"wrote {output}: {chosen.title}; {what}; {count} weights; "
            f"sha256 {config.source.sha256}")


def main(argv=None, prog: str = "jaxrestore convert") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        architecture, source, output, options, licence = _check(args)
        if output.suffix == ".safetensors":
            print(_to_safetensors(source, output, licence))
        else:
            print(_to_checkpoint(architecture, source, output, options, licence))
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the output cannot be written
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_RUNTIME
    return 0

if __name__ == "__main__":
    sys.exit(main())
