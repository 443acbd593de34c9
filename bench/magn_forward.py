"""Jitted, warm forward time and peak memory of MAGN, its two graphs alone, and DnCNN (grey).

    python bench/magn_forward.py [--models magn_tiny dncnn_tiny ...] [--sizes 256 512 1024]
                                 [--repeats 3]

Models (random weights from the model's own init; one grey image of size × size):
  magn, magn_tiny         the full / tiny MAGN of configs/magn[_tiny]_denoise_gray_s25.py
  dncnn, dncnn_tiny       the baselines of the same size class (configs/dncnn*_s25.py)
  magn_element_graph, magn_block_graph, magn_tiny_element_graph, magn_tiny_block_graph
                          one graph of that config alone, on random (1, size, size, n_feats)
                          features
  any MAGN name + '_pooled' (e.g. magn_tiny_pooled, magn_element_graph_pooled)
                          the same with the first, quadratic element graph (element_graph=
                          'pooled'), for comparison; not in the default set
Default: magn_tiny, dncnn_tiny, magn_tiny_element_graph, magn_tiny_block_graph, magn,
dncnn, magn_element_graph, magn_block_graph at 256, 512 and 1024.

Each model runs in its own subprocess, which compiles and warms up the forward at every size and
then times `repeats` rounds, each round running every size once: a ratio compares runs made
under the same machine load (this machine is shared). One JSON line per (model, size):
`seconds` = median of the `repeats` warm runs of the compiled forward; `peak_bytes` = XLA's
buffer assignment for the compiled forward (arguments + outputs + temporaries,
`compiled.memory_analysis()`), the memory the forward needs, without the Python/XLA runtime;
`time_ratio` = seconds / seconds of the same model at half the side (a quarter of the pixels)
when that size ran too, else null (linear time: ≈ 4); `cpu_seconds` = median CPU time of the
process (all threads) per forward, less sensitive than wall time to other jobs on the machine;
`load_avg` = the 1-minute load average when the model finished.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's jaxrestore, not an installed copy
CONFIGS = {
    "magn": "magn_denoise_gray_s25",
    "magn_tiny": "magn_tiny_denoise_gray_s25",
    "dncnn": "dncnn_denoise_gray_s25",
    "dncnn_tiny": "dncnn_tiny_denoise_gray_s25",
}
GRAPHS = ("element_graph", "block_graph")
DEFAULT_MODELS = ["magn_tiny", "dncnn_tiny", "magn_tiny_element_graph", "magn_tiny_block_graph",
                  "magn", "dncnn", "magn_element_graph", "magn_block_graph"]


def parse_model(name: str):
    """'magn_tiny_block_graph_pooled' → ('magn_tiny', 'block_graph', 'pooled')."""
    element_graph = None
    if name.endswith("_pooled"):
        name, element_graph = name[: -len("_pooled")], "pooled"
    graph = next((g for g in GRAPHS if name.endswith("_" + g)), None)
    base = name[: -len(graph) - 1] if graph else name
    if (base not in CONFIGS or ((graph or element_graph) and not base.startswith("magn"))
            or (graph == "block_graph" and element_graph)):
        raise ValueError(f"unknown model {name + ('_pooled' if element_graph else '')!r}")
    return base, graph, element_graph


def build(name: str, sizes):
    """(apply function, variables, {size: input}) for one model."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxrestore import configs
    from jaxrestore.models import build_model
    from jaxrestore.models.magn import BlockGraph, ElementGraph

    base, graph, element_graph = parse_model(name)
    config = configs.load(CONFIGS[base])
    if element_graph:
        config.model.element_graph = element_graph
    m = config.model
    if graph == "element_graph":
        module = ElementGraph(heads=m.heads, variant=m.element_graph, pool=m.element_pool,
                              chunk=m.chunk)
    elif graph == "block_graph":
        module = BlockGraph(heads=m.heads, patch=m.patch, stride=m.stride, window=m.window,
                            top_k=m.top_k, embed=m.embed, chunk=m.chunk)
    else:
        module = build_model(m)
    channels = m.n_feats if graph else config.task.channels
    rng = np.random.default_rng(0)
    inputs = {size: jnp.asarray(rng.uniform(0, 1, (1, size, size, channels)), jnp.float32)
              for size in sizes}
    small = jnp.zeros((1, 48, 48, channels), jnp.float32)   # the weights do not depend on size
    return module.apply, jax.jit(module.init)(jax.random.key(0), small), inputs


def measure(name: str, sizes, repeats: int):
    """One JSON-ready dict per size; the timed runs cycle through the sizes (each round runs
    every size once), so a ratio compares runs made under the same machine load."""
    import jax
    import numpy as np

    apply, variables, inputs = build(name, sizes)
    compiled, compile_s = {}, {}
    times, cpu_times = {size: [] for size in sizes}, {size: [] for size in sizes}
    for size, x in inputs.items():
        start = time.perf_counter()
        compiled[size] = jax.jit(apply).lower(variables, x).compile()
        compile_s[size] = time.perf_counter() - start
        compiled[size](variables, x).block_until_ready()                   # warm-up
    for _ in range(repeats):
        for size, x in inputs.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            compiled[size](variables, x).block_until_ready()
            times[size].append(time.perf_counter() - start)
            cpu_times[size].append(time.process_time() - cpu_start)
    results = []
    for size in sizes:
        mem = compiled[size].memory_analysis()
        seconds = float(np.median(times[size]))
        quarter = times.get(size // 2) if size % 2 == 0 else None
        results.append({
            "model": name, "size": size, "seconds": round(seconds, 4),
            "peak_bytes": int(mem.argument_size_in_bytes + mem.output_size_in_bytes
                              + mem.temp_size_in_bytes),
            "time_ratio": round(seconds / float(np.median(quarter)), 2) if quarter else None,
            "times": [round(t, 4) for t in times[size]],
            "cpu_seconds": round(float(np.median(cpu_times[size])), 4),
            "compile_s": round(compile_s[size], 1),
            "load_avg": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "jax": jax.__version__, "backend": jax.default_backend(),
        })
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: measure one model
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    if args.one:
        for line in measure(args.one, sizes, args.repeats):
            print(json.dumps(line), flush=True)
        return 0
    for name in args.models:
        try:
            parse_model(name)                                              # fail early
        except ValueError as error:
            parser.error(str(error))
    for name in args.models:
        result = subprocess.run([sys.executable, __file__, "--one", name, "--repeats",
                                 str(args.repeats), "--sizes", *map(str, sizes)],
                                capture_output=True, text=True)
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        print(result.stdout.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
