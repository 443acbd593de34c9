"""How close XLA's CPU convolutions run to this machine's matrix-multiply rate.

    python bench/conv_throughput.py [--size 128] [--features 256] [--repeats 5]

The full IGNN's forward is dominated by 3×3 convolutions of 256 features at the LR size
(bench/ignn_forward.py). This prints one JSON line each for such a convolution (jitted, NHWC,
float32) by XLA, the same convolution by Winograd F(4×4, 3×3) (jaxrestore.ops.winograd; its
GFLOP/s counts the direct convolution's FLOPs, so it can exceed the machine's rate), and the
matrix product with the same output size and inner dimension as one of the nine taps, with the
best warm time and GFLOP/s (2 FLOP per multiply-add). XLA's direct convolution runs near the
matrix-product rate, so a faster forward needs fewer FLOPs, which Winograd gives.
"""
import argparse
import json
import time

import jax
import jax.numpy as jnp

from jaxrestore.ops.winograd import conv3x3


def best_time(fn, *args, repeats: int) -> float:
    """Best wall time of `repeats` warm calls of a jitted fn."""
    fn(*args).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).block_until_ready()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="image side (default 128)")
    parser.add_argument("--features", type=int, default=256, help="channels in and out (256)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    n, c = args.size, args.features
    keys = jax.random.split(jax.random.key(0), 2)

    x = jax.random.normal(keys[0], (1, n, n, c))
    kernel = jax.random.normal(keys[1], (3, 3, c, c))
    conv = jax.jit(lambda x, k: jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
    flops = 2 * n * n * 9 * c * c
    for name, fn in [("conv3x3", conv), ("conv3x3_winograd", jax.jit(conv3x3))]:
        seconds = best_time(fn, x, kernel, repeats=args.repeats)
        print(json.dumps({"bench": name, "size": n, "features": c, "time_s": round(seconds, 4),
                          "gflops": round(flops / seconds / 1e9, 1),
                          "backend": jax.default_backend()}))

    a, b = x.reshape(n * n, c), kernel[0, 0]
    seconds = best_time(jax.jit(jnp.matmul), a, b, repeats=args.repeats)
    flops = 2 * n * n * c * c
    print(json.dumps({"bench": "matmul", "shape": [n * n, c, c], "time_s": round(seconds, 4),
                      "gflops": round(flops / seconds / 1e9, 1), "backend": jax.default_backend()}))


if __name__ == "__main__":
    main()
