"""Jitted, warm forward time and peak memory of the full IGNN ×2 model (random weights).

    python bench/ignn_forward.py [--sizes 64 128] [--repeats 5] [--config ignn_x2]
                                 [--no-graph] [--conv-algorithm {direct,winograd,auto}]

Each LR size runs in its own subprocess so that its peak resident memory (ru_maxrss, which
includes the ~0.2 GB of weights and the Python/XLA runtime) is its own. The son image is
computed inside the model, as in inference. Prints one JSON line per size with the median warm
time, the compile time, XLA's own buffer estimate (arguments + outputs + temporaries of the
compiled forward) and the process peak RSS. The original PyTorch IGNN on this kind of 2-core CPU
takes ~3.3 s (64²) and ~16.7 s (128²), peaking at ~4.3 GB at 128². `--no-graph` times the same
network with `use_graph=False` (the EDSR trunk alone), to separate the trunk from the graph.
`--conv-algorithm` overrides the config's `model.conv_algorithm` (default 'auto': Winograd
convolutions on CPU; 'direct' is XLA's own convolution).
"""
import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import time

from jaxrestore.ops.conv import CONV_ALGORITHMS

REPO = pathlib.Path(__file__).resolve().parents[1]


def measure(size: int, repeats: int, config_path: str, use_graph: bool,
            conv_algorithm: str | None) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxrestore import configs
    from jaxrestore.models import build_model

    config = configs.load(config_path)
    config.model.use_graph = use_graph
    if conv_algorithm:
        config.model.conv_algorithm = conv_algorithm
    model = build_model(config.model, config.task.scale)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x),
                            jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))
    rng = np.random.default_rng(0)
    variables = jax.tree.map(
        lambda s: jnp.asarray(rng.normal(0, 0.02, s.shape), jnp.float32), shapes)
    lr = jnp.asarray(rng.uniform(0, 255, (1, size, size, 3)), jnp.float32)

    start = time.perf_counter()
    compiled = jax.jit(model.apply).lower(variables, lr).compile()
    compile_s = time.perf_counter() - start
    mem = compiled.memory_analysis()
    xla_bytes = (mem.argument_size_in_bytes + mem.output_size_in_bytes
                 + mem.temp_size_in_bytes) if mem is not None else None
    compiled(variables, lr).block_until_ready()                           # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled(variables, lr).block_until_ready()
        times.append(time.perf_counter() - start)
    return {
        "bench": "ignn_forward", "config": pathlib.Path(config_path).stem,
        "use_graph": use_graph, "conv_algorithm": config.model.conv_algorithm, "lr_size": size, "sr_size": size * config.task.scale,
        "threads": os.cpu_count(),
        "time_s": float(np.median(times)), "times_s": [round(t, 3) for t in times],
        "compile_s": round(compile_s, 1),
        "xla_buffers_gb": None if xla_bytes is None else round(xla_bytes / 1e9, 3),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "jax": jax.__version__, "backend": jax.default_backend(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="LR sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after a warm-up")
    parser.add_argument("--config", default="ignn_x2",
                        help="packaged config name or config file (default ignn_x2)")
    parser.add_argument("--no-graph", action="store_true",
                        help="time the trunk alone (model.use_graph=False)")
    parser.add_argument("--conv-algorithm", choices=CONV_ALGORITHMS,
                        help="override model.conv_algorithm (the config's default is 'auto')")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child: measure one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeats, args.config, not args.no_graph,
                                 args.conv_algorithm)), flush=True)
        return 0
    for size in args.sizes:
        options = ["--no-graph"] * args.no_graph
        if args.conv_algorithm:
            options += ["--conv-algorithm", args.conv_algorithm]
        result = subprocess.run([sys.executable, __file__, "--one", str(size), "--repeats",
                                 str(args.repeats), "--config", args.config] + options,
                                capture_output=True, text=True)
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        print(result.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
