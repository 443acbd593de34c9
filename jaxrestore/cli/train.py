"""Train a restoration model: `jaxrestore train --config CONFIG --workdir DIR`.

CONFIG is a config file (`configs/default.py`) or the name of a packaged one (`default`,
`ignn_tiny_x2`, ...: the files of jaxrestore/configs). Override any field with
`--config.section.field=value` (e.g. `--config.train.steps=50`). Restarting with the same
--workdir resumes from its newest checkpoint. Multi-host: start one process per host with
--coordinator_address host:port --num_processes N --process_id i (or the environment a cluster
sets for jax.distributed, e.g. JAX_COORDINATOR_ADDRESS with SLURM).

One trainer per --workdir: a second one stops with one line naming the holder (host, PID,
start time); a lock left by a killed trainer is taken over with one warning line. SIGTERM or
SIGINT (Ctrl-C): the current step is finished and saved, one line names it and the command that
resumes, exit status 143 / 130; a second signal ends the process at once, keeping the earlier
checkpoints. A full disk: one line naming the newest complete checkpoint, exit status 1.
"""
import os
import pathlib
import shlex
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from jaxrestore.errors import EXIT_RULE, EXIT_USAGE, UserError

config_flags.DEFINE_config_file("config", None, "Python config file (get_config()), or the "
                                "name of a packaged config (e.g. ignn_tiny_x2).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Run directory: checkpoints, metrics.jsonl, tensorboard/.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0 for multi-host runs.")
flags.DEFINE_integer("num_processes", None, "Number of processes of a multi-host run.")
flags.DEFINE_integer("process_id", None, "This process's index in a multi-host run.")
FLAGS = flags.FLAGS
PROG = "train.py"
COMMAND = "python train.py"  # how this run was started, for the line that says how to resume


def _fail(message: str, code: int = EXIT_USAGE):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def _config_file(argv) -> tuple[list, str | None]:
    """argv with a packaged config name replaced by its file, and that file (or None)."""
    from jaxrestore import configs

    out, path, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" and i + 1 < len(argv):
            arg, i = f"--config={argv[i + 1]}", i + 1
        if arg.startswith("--config="):
            path = arg.split("=", 1)[1]
            try:
                path = str(configs.resolve(path))
            except FileNotFoundError as error:
                _fail(str(error))
            arg = f"--config={path}"
        out.append(arg)
        i += 1
    return out, path


def _unknown_override(config_path: str, argv) -> str | None:
    """For a failed parse: the first --config.a.b=... that names no field of the config."""
    from jaxrestore import configs
    from jaxrestore.models import RENAMED

    try:
        config = configs.load(config_path)
    except Exception:  # the config file itself is broken: report the original error
        return None
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        path = arg[len("--config."):].split("=", 1)[0].split(".")
        node = config
        for depth, key in enumerate(path):
            if not hasattr(node, "keys") or key not in node:
                where = ".".join(path[:depth]) or "the config"
                if path[:depth] == ["model"] and RENAMED.get(key) in node:
                    return (f"config field model.{key} is now model.{RENAMED[key]} ({arg}): "
                            f"use --config.model.{RENAMED[key]}")
                known = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else ""
                return f"unknown config field {'.'.join(path)} ({arg}); {where} has: {known}"
            node = node[key]
    return None


def usage() -> str:
    """--help: this module's docstring, the flags, and the packaged configs."""
    from jaxrestore import configs

    return (f"usage: {PROG} --config CONFIG --workdir DIR [--config.section.field=value ...]\n\n"
            f"{__doc__.strip()}\n{FLAGS.module_help(__name__)}\n\n"
            f"Packaged configs: {', '.join(configs.names())}\n\n{EXIT_RULE}")


def parse_flags(argv):
    """absl's parse with every mistake as one line (unknown field, bad value, missing file)."""
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
        try:
            print(usage(), flush=True)
        except BrokenPipeError:  # `--help | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # exit flushes here
        sys.exit(0)
    argv, config_path = _config_file(list(argv))
    try:
        rest = FLAGS(argv)
    except flags.Error as error:
        _fail(str(error).splitlines()[0])
    except (AttributeError, KeyError, ValueError, TypeError) as error:
        detail = config_path and _unknown_override(config_path, argv)
        _fail(detail or f"cannot apply the config overrides: {str(error).strip(chr(34))}")
    if FLAGS.config is None or FLAGS.workdir is None:
        _fail("give --config CONFIG and --workdir DIR (see --help)")
    return rest


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 shows it
    import jax  # after flag parsing, so --help is instant

    if FLAGS.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS"):
        jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes,
                                   FLAGS.process_id)
    from jaxrestore.train.loop import train_and_evaluate
    from jaxrestore.train.signals import TrainingStopped

    try:
        train_and_evaluate(FLAGS.config, FLAGS.workdir)
    except UserError as error:
        _fail(str(error), error.exit_code)
    except TrainingStopped as stopped:
        print(f"{PROG}: {stopped}; resume with: {COMMAND}", file=sys.stderr)
        sys.exit(128 + stopped.signum)
    except KeyboardInterrupt:
        _fail(f"interrupted; rerun the same command to resume from the newest checkpoint in "
              f"{pathlib.Path(FLAGS.workdir) / 'checkpoints'}", 130)


def run(argv=None, prog: str = "train.py"):
    """Entry point: parses `argv` (default sys.argv) and trains."""
    global PROG, COMMAND
    PROG = prog
    argv = sys.argv if argv is None else argv
    start = ["python", argv[0]] if argv[0].endswith(".py") else prog.split()
    COMMAND = shlex.join(start + list(argv[1:]))
    app.run(main, argv=argv, flags_parser=parse_flags)
