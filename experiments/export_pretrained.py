"""Copies a training run's final weights (no optimiser state) into an inference checkpoint
directory, e.g. the committed pretrained/ checkpoints:

    python experiments/export_pretrained.py runs/table_a/ignn_tiny_x2/checkpoints \
        pretrained/ignn_tiny_x2

The stored config is the run's own, with data paths made relative to the repository
(../shared/data/...) so that no machine-specific path is committed, and `train.steps` set to the
step actually exported (a run stopped early stores the steps it was started with).
"""
import argparse
import pathlib
import sys

from jaxrestore.checkpoints import load_for_inference, save_for_inference
from jaxrestore.errors import UserError


def relative_data_paths(paths: str) -> str:
    """'/any/where/shared/data/T91,...' -> '../shared/data/T91,...' (other paths unchanged)."""
    out = []
    for path in paths.split(","):
        parts = pathlib.PurePath(path).parts
        if "data" in parts and parts.index("data") > 0 and parts[parts.index("data") - 1] == "shared":
            path = str(pathlib.PurePath("../shared/data", *parts[parts.index("data") + 1:]))
        out.append(path)
    return ",".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_checkpoints", help="a run's WORKDIR/checkpoints")
    parser.add_argument("out", help="new inference checkpoint directory (must not exist)")
    args = parser.parse_args(argv)
    if pathlib.Path(args.out).exists():
        print(f"error: {args.out} already exists", file=sys.stderr)
        return 2
    try:
        config, variables, step = load_for_inference(args.run_checkpoints)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config.data.train_path = relative_data_paths(config.data.train_path)
    config.train.steps = step
    save_for_inference(args.out, config, variables, step=step)
    print(f"wrote {args.out} ({config.model.name}, step {step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
