"""`jaxrestore COMMAND ...`: one entry point for the command-line tools.

    jaxrestore train   --config default --workdir runs/default     (jaxrestore.cli.train)
    jaxrestore eval    [score|restore] ...                          (jaxrestore.cli.eval)
    jaxrestore convert [ARCH] WEIGHTS.pth OUT_DIR                  (jaxrestore.cli.convert)
    jaxrestore export  --checkpoint DIR --out DIR ...              (jaxrestore.cli.export)
"""
import sys

from jaxrestore.errors import EXIT_RULE, EXIT_USAGE

COMMANDS = {
    "train": "train a model (resumes from its work directory)",
    "eval": "score a checkpoint on benchmark images, or restore your own images",
    "convert": "convert released PyTorch weights (IGNN, DnCNN; detected) into a checkpoint",
    "export": "write a checkpoint's restorer as jax.export (or ONNX) artifacts",
}


def _usage() -> str:
    lines = ["usage: jaxrestore COMMAND [ARGS...]   (jaxrestore COMMAND --help for each)", ""]
    lines += [f"  {name:<8} {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines + ["", EXIT_RULE])


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    prog = f"jaxrestore {command}"
    if command == "train":
        from jaxrestore.cli import train

        train.run([prog] + rest, prog=prog)
        return 0
    if command == "eval":
        from jaxrestore.cli import eval as eval_cli

        return eval_cli.main(rest, prog=prog)
    if command == "convert":
        from jaxrestore.cli import convert

        return convert.main(rest, prog=prog)
    if command == "export":
        from jaxrestore.cli import export

        return export.main(rest, prog=prog)
    print(f"jaxrestore: error: unknown command {command!r}\n{_usage()}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
