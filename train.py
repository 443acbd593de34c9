"""Train a restoration model: `python train.py --config configs/default.py --workdir runs/x`.

Override any config field with `--config.section.field=value` (e.g. `--config.train.steps=50`).
Restarting with the same --workdir resumes from its newest checkpoint. Multi-host: start one
process per host with --coordinator_address host:port --num_processes N --process_id i (or the
environment a cluster sets for jax.distributed, e.g. JAX_COORDINATOR_ADDRESS with SLURM).
"""
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Python config file (get_config()).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Run directory: checkpoints, metrics.jsonl, tensorboard/.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0 for multi-host runs.")
flags.DEFINE_integer("num_processes", None, "Number of processes of a multi-host run.")
flags.DEFINE_integer("process_id", None, "This process's index in a multi-host run.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config_file = config_flags.get_config_filename(FLAGS["config"])
    if not os.path.isfile(config_file):
        sys.exit(f"error: config file not found: {config_file}")
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; -v 0 shows it
    import jax  # after flag parsing, so --help is instant

    if FLAGS.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS"):
        jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes,
                                   FLAGS.process_id)
    from jaxrestore.checkpoints import CheckpointError
    from jaxrestore.data.sources import DataSourceError
    from jaxrestore.train.loop import LossNotFinite, train_and_evaluate

    try:
        train_and_evaluate(FLAGS.config, FLAGS.workdir)
    except (LossNotFinite, CheckpointError, DataSourceError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    app.run(main)
