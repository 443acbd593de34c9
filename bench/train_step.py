"""Seconds per training step and analytic FLOPs of IGNN against its `use_graph=False` twin.

    python bench/train_step.py [--cases tiny:8:48 tiny:8:96 full:1:96] [--steps 7]

A case is `model:batch:crop`: model 'tiny' (config ignn_tiny_x2) or 'full'
(ignn_x2), crop the HR side in pixels (LR = crop / 2; the model computes its son
image from the LR itself). Each case compiles IGNN and its twin (the same config with
`model.use_graph=False`: the EDSR trunk) in one process and alternates their steps, so both
see the same machine load. A step is jitted: the L1 loss of `module.apply(variables, lr)`
against the HR crop, `jax.value_and_grad`, `optax.adam`, `optax.apply_updates`, on random
images (the cost does not depend on the pixels: the kNN is exact, its windows fixed) and
variables drawn at random in the init's shapes (compiling `init` costs more than a step).

Prints one JSON line per (model, case): the median wall time of `--steps` warm steps (after
one warm-up step), the median of the process's CPU time over the same steps (steadier than
wall time on a machine shared with other jobs), the analytic FLOPs per step (by part) and
XLA's own count (`cost_analysis()` of the compiled step), and for IGNN the ratios of its times
and FLOPs to the twin's and `excess` = time ratio / FLOP ratio.

Analytic FLOPs (`analytic_flops`) count 2 per multiply-add of the convolutions
(2·H·W·k²·Cin·Cout at the output size), the 1×1 layers (the weight nets) and the kNN's patch
distances (2·E per query-candidate pair); elementwise work (bias, ReLU, AdaIN, folds, softmax,
loss, Adam) is not counted. Backward: 2× the forward for a layer whose input depends on trained
weights (input and weight gradients), 1× for one that reads data or frozen features (weight
gradients only: head, the weight nets' first layer, add_mean's input gradient), none for the
frozen graph search (VGG embedding, kNN). XLA's count is of what it compiled: Winograd
convolutions count their transform-domain products, loop bodies count once.
"""
import argparse
import json
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrestore import configs
from jaxrestore.models import build_model
from jaxrestore.ops.knn import window_starts
from jaxrestore.ops.patches import patch_grid

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = {"tiny": "ignn_tiny_x2", "full": "ignn_x2"}
VGG_FEATURES = 64
WEIGHT_NET_HIDDEN = 64


def conv_flops(pixels: int, kernel: int, cin: int, cout: int) -> int:
    """Forward FLOPs of a k×k convolution with `pixels` outputs: 2·pixels·k²·Cin·Cout."""
    return 2 * pixels * kernel * kernel * cin * cout


def analytic_flops(model, batch: int, lr_hw: tuple[int, int]) -> dict[str, int]:
    """FLOPs of one training step by part (rules in the module docstring), plus 'total'.

    model: an `IGNN`; lr_hw: the LR crop (h, w). Parts: 'trunk' (head, residual blocks,
    upsamplers, tail, mean shifts), 'fuse' (fuse_b, fuse_up), 'neighbour_convs' (the GCN
    block's three convolutions of every neighbour's HR aggregate), 'weight_nets',
    'embedding' (frozen VGG of LR and son), 'knn' (patch distances).
    """
    h, w = lr_hw
    n, s, gs = model.n_feats, model.scale, model.graph_scale
    lr, graph_hr, hr = batch * h * w, batch * h * w * gs * gs, batch * h * w * s * s
    # (forward FLOPs, backward multiple) per layer
    trunk = [(conv_flops(lr, 1, 3, 3), 0), (conv_flops(lr, 3, 3, n), 1)]
    trunk += [(conv_flops(lr, 3, n, n), 2)] * (2 * model.n_resblocks + 1)
    trunk += [(conv_flops(lr, 3, n, gs * gs * n), 2)]
    if s != gs:
        trunk += [(conv_flops(graph_hr, 3, n, (s // gs) ** 2 * n), 2)]
    trunk += [(conv_flops(hr, 3, n, 3), 2), (conv_flops(hr, 1, 3, 3), 1)]
    parts = {"trunk": trunk}
    if model.use_graph:
        parts["fuse"] = [(conv_flops(lr, 3, 2 * n, n), 2), (conv_flops(lr, 3, n, n), 2),
                         (conv_flops(graph_hr, 3, 2 * n, n), 2),
                         (conv_flops(graph_hr, 3, n, n), 2)]
        parts["neighbour_convs"] = [(model.top_k * conv_flops(lr, 5, n, n), 2),
                                    (model.top_k * 2 * conv_flops(lr, 3, n, n), 2)]
        e = VGG_FEATURES if model.embedding == "vgg" else 3
        hidden, edges = WEIGHT_NET_HIDDEN, lr * model.top_k
        parts["weight_nets"] = 2 * [(conv_flops(edges, 1, e, hidden), 1),
                                    (2 * conv_flops(edges, 1, hidden, hidden), 2),
                                    (conv_flops(edges, 1, hidden, 1), 2)]
        son_hw = (h // gs, w // gs)
        son = batch * son_hw[0] * son_hw[1]
        parts["embedding"] = ([(conv_flops(p, 1, 3, 3) + conv_flops(p, 3, 3, e)
                                + conv_flops(p, 3, e, e), 0) for p in (lr, son)]
                              if model.embedding == "vgg" else [])
        query_grid = patch_grid(h, w, model.patch, model.stride)
        son_grid = patch_grid(*son_hw, model.patch, model.stride)
        starts = window_starts(query_grid, son_grid, model.window, gs)
        candidates = np.prod(son_grid) if starts is None else starts[2] ** 2
        patch_length = model.patch ** 2 * e
        parts["knn"] = [(2 * batch * int(np.prod(query_grid)) * int(candidates)
                         * patch_length, 0)]
    flops = {name: sum(f * (1 + backward) for f, backward in layers)
             for name, layers in parts.items()}
    flops["total"] = sum(flops.values())
    return flops


def random_variables(model, lr_shape, rng):
    """Variables in the init's shapes, drawn N(0, 0.02) (a step's cost ignores their values)."""
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x),
                            jax.ShapeDtypeStruct(lr_shape, jnp.float32))
    return jax.tree.map(lambda s: jnp.asarray(rng.normal(0, 0.02, s.shape), jnp.float32),
                        shapes)


def make_step(model, optimizer, pixel_range):
    """step(params, frozen, opt_state, lr, hr) → (params, opt_state, loss); images in [0, 1]."""

    def step(params, frozen, opt_state, lr, hr):
        def loss_of(params):
            out = model.apply({"params": params, **frozen}, lr * pixel_range) / pixel_range
            return jnp.mean(jnp.abs(out - hr))

        loss, grads = jax.value_and_grad(loss_of)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step, donate_argnums=(0, 2))


class Stepper:
    """One model's compiled training step on a (batch, crop/scale, crop/scale, 3) LR batch."""

    def __init__(self, model, batch: int, crop: int, pixel_range: float):
        rng = np.random.default_rng(0)
        self.model, self.batch, self.crop = model, batch, crop
        self.lr_side = crop // model.scale
        self.lr = jnp.asarray(rng.uniform(0, 1, (batch, self.lr_side, self.lr_side, 3)),
                              jnp.float32)
        self.hr = jnp.asarray(rng.uniform(0, 1, (batch, crop, crop, 3)), jnp.float32)
        variables = random_variables(model, self.lr.shape, rng)
        self.params = variables.pop("params")
        self.frozen = variables
        optimizer = optax.adam(1e-4)
        self.opt_state = optimizer.init(self.params)
        step = make_step(model, optimizer, pixel_range)
        start = time.perf_counter()
        self.compiled = step.lower(self.params, self.frozen, self.opt_state, self.lr,
                                   self.hr).compile()
        self.compile_s = time.perf_counter() - start
        cost = self.compiled.cost_analysis()
        self.cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        self.times, self.cpu_times = [], []
        self.step()                                                        # warm-up

    def step(self) -> tuple[float, float]:
        """Runs one step; returns its wall time and the process's CPU time in seconds."""
        start, cpu = time.perf_counter(), time.process_time()
        self.params, self.opt_state, self.loss = self.compiled(
            self.params, self.frozen, self.opt_state, self.lr, self.hr)
        self.loss.block_until_ready()
        return time.perf_counter() - start, time.process_time() - cpu

    def result(self) -> dict:
        flops = analytic_flops(self.model, self.batch, (self.lr_side, self.lr_side))
        return {
            "model": self.model.__class__.__name__, "use_graph": self.model.use_graph,
            "batch": self.batch, "crop": self.crop,
            "seconds_per_step": round(float(np.median(self.times)), 4),
            "times_s": [round(t, 4) for t in self.times],
            "cpu_seconds_per_step": round(float(np.median(self.cpu_times)), 4),
            "flops_per_step": flops["total"],
            "flops_by_part": {k: v for k, v in flops.items() if k != "total"},
            "xla_flops": None if self.cost is None else int(self.cost.get("flops", 0)),
            "compile_s": round(self.compile_s, 1), "loss": round(float(self.loss), 5),
        }


def run_case(case: str, steps: int) -> list[dict]:
    """IGNN and its twin for one `model:batch:crop` case: two JSON-ready dicts, twin first.

    The two compiled steps alternate (twin, IGNN, twin, ...), so that both see the same load.
    """
    name, batch, crop = case.split(":")
    config = configs.load(CONFIGS[name])
    steppers = []
    for use_graph in (False, True):
        config.model.use_graph = use_graph
        module = build_model(config.model, config.task.scale)
        steppers.append(Stepper(module, int(batch), int(crop), config.model.pixel_range))
    for _ in range(steps):
        for stepper in steppers:
            wall, cpu = stepper.step()
            stepper.times.append(wall)
            stepper.cpu_times.append(cpu)
    results = [{"config": CONFIGS[name], "case": case, **s.result()} for s in steppers]
    twin, ignn = results
    ignn["time_ratio"] = round(ignn["seconds_per_step"] / twin["seconds_per_step"], 3)
    ignn["cpu_time_ratio"] = round(ignn["cpu_seconds_per_step"] / twin["cpu_seconds_per_step"],
                                   3)
    ignn["flop_ratio"] = round(ignn["flops_per_step"] / twin["flops_per_step"], 3)
    ignn["excess"] = round(ignn["time_ratio"] / ignn["flop_ratio"], 3)
    for result in results:
        result.update(threads=os.cpu_count(), jax=jax.__version__,
                      backend=jax.default_backend())
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["tiny:8:48", "tiny:8:96", "full:1:96"],
                        help="model:batch:crop, model 'tiny' or 'full', crop the HR side")
    parser.add_argument("--steps", type=int, default=7, help="timed steps after a warm-up")
    args = parser.parse_args(argv)
    for case in args.cases:
        for result in run_case(case, args.steps):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
