"""Graph probe: how much a trained graph network relies on its graph.

    python experiments/graph_probe.py --checkpoint pretrained/ignn_tiny_x2 --data ../shared/data/Set5

prints one JSON line per variant: {"variant", "set", "psnr", "ssim", "images", "checkpoint"},
the mean scores by the protocol of record (`jaxrestore.protocol`: SR on Y with a `scale`-pixel
border crop, the numbers `jaxrestore eval score` gives) of the trained weights run with part of
the graph replaced. Nothing in the model changes but what is named:

IGNN (its neighbour search is an argument of the call, `IGNN.graph`):
- `knn`: the exact windowed kNN it was trained with (= `eval score`).
- `shuffled`: each query's k neighbours moved by a random permutation of its search window
  (k distinct patches of the window, unrelated to the query).
- `random`: k son patches drawn uniformly from the query's window (with replacement).
- `self`: every neighbour is the query's own position in the son image.
- `oracle`: neighbours searched on the ground truth: the query's HR patch (p·gs pixels of the
  HR image at gs× the LR size) against the LR patches that the son patches stand for, in the
  model's embedding; an upper bound for a better search.
- `zero`: the graph branch's outputs (the GCN block's LR and HR aggregates) set to zero.
MAGN (element graph and element-block graph of every multi-level block):
- `full` (as trained), `zero_element`, `zero_block`, `zero_both`: that level's messages zeroed.
- `shuffled_element`: every position receives the element message meant for another position
  (the element graph's queries permuted over the positions by one random permutation).
- `shuffled_block`: every node's candidates are scored against the keys of other, random nodes
  (the block graph's keys permuted over the nodes), so which top_k of its window it keeps and
  their weights no longer depend on their content; the values are still its window's.

If `shuffled` scores like `knn`, the network does not use which neighbours it gets.
Exit status: 0, 1 (a runtime failure), 2 (a usage mistake), with one line on stderr.
"""
import argparse
import json
import pathlib
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from jaxrestore import evaluate, protocol, tasks  # noqa: E402
from jaxrestore.errors import UserError  # noqa: E402
from jaxrestore.inference import load_checkpoint  # noqa: E402
from jaxrestore.models import apply_unit_range, build_model  # noqa: E402
from jaxrestore.models.ignn import GCNBlock  # noqa: E402
from jaxrestore.models.magn import BlockGraph, ElementGraph  # noqa: E402
from jaxrestore.models.vgg import VGGEmbedding  # noqa: E402
from jaxrestore.ops.imresize import imresize  # noqa: E402
from jaxrestore.ops.knn import window_starts, windowed_knn  # noqa: E402
from jaxrestore.ops.patches import extract_patches  # noqa: E402

IGNN_VARIANTS = ("knn", "shuffled", "random", "self", "oracle", "zero")
MAGN_VARIANTS = ("full", "zero_element", "zero_block", "zero_both", "shuffled_element",
                 "shuffled_block")
MAGN_ZEROED = {"full": (), "zero_element": (ElementGraph,), "zero_block": (BlockGraph,),
               "zero_both": (ElementGraph, BlockGraph)}
MAGN_SHUFFLED = {"shuffled_element": (ElementGraph, "query"), "shuffled_block": (BlockGraph, "key")}


def _windows(query_grid, database_grid, window, scale):
    """Each query row's first window row (m1,), each query column's first window column (m2,),
    and the window's rows and columns: IGNN's windows (`window_starts`), or the whole son grid."""
    (m1, m2), (n1, n2) = query_grid, database_grid
    starts = window_starts(query_grid, database_grid, window, scale)
    if starts is None:
        return np.zeros(m1, np.int32), np.zeros(m2, np.int32), n1, n2
    rows, cols, side = starts
    return rows, cols, side, side


def _son_index(rows, cols, n2, a, c):
    """Row-major son index of window cell (a, c) (B, m1, m2, k) of every query."""
    return (jnp.asarray(rows)[:, None, None] + a) * n2 + jnp.asarray(cols)[None, :, None] + c


def shuffled_search(seed: int):
    """A neighbour search (`IGNN.graph`'s contract) returning the exact kNN's neighbours moved
    by one random permutation of each query's window cells."""
    def search(query, database, k, window, scale):
        _, idx = windowed_knn(query, database, k, window, scale)
        b, m1, m2, _ = query.shape
        n2 = database.shape[2]
        rows, cols, sr, sc = _windows(query.shape[1:3], database.shape[1:3], window, scale)
        a = idx // n2 - jnp.asarray(rows)[:, None, None]        # window cell of each neighbour
        c = idx % n2 - jnp.asarray(cols)[None, :, None]
        perm = jnp.argsort(jax.random.uniform(jax.random.PRNGKey(seed), (b, m1, m2, sr * sc)))
        moved = jnp.take_along_axis(perm, a * sc + c, axis=-1)
        return None, _son_index(rows, cols, n2, moved // sc, moved % sc).astype(jnp.int32)
    return search


def random_search(seed: int):
    """A neighbour search drawing k cells of each query's window uniformly (with replacement)."""
    def search(query, database, k, window, scale):
        b, m1, m2, _ = query.shape
        rows, cols, sr, sc = _windows(query.shape[1:3], database.shape[1:3], window, scale)
        cell = jax.random.randint(jax.random.PRNGKey(seed), (b, m1, m2, k), 0, sr * sc)
        return None, _son_index(rows, cols, database.shape[2], cell // sc,
                                cell % sc).astype(jnp.int32)
    return search


def self_search(query, database, k, window, scale):
    """Every neighbour of query patch (i, j) is son patch (i // scale, j // scale), clamped:
    its own position in the son image."""
    b, m1, m2, _ = query.shape
    n1, n2 = database.shape[1:3]
    own = (np.minimum(np.arange(m1) // scale, n1 - 1)[:, None] * n2
           + np.minimum(np.arange(m2) // scale, n2 - 1)[None, :])
    return None, jnp.broadcast_to(jnp.asarray(own, jnp.int32)[None, :, :, None], (b, m1, m2, k))


def oracle_indices(model, variables, lr, hr):
    """The oracle's neighbours (B, m1, m2, k): the exact windowed kNN of the HR image's patches
    (patch p·gs, stride t·gs, HR resized to gs × the LR size when scale ≠ gs) among the LR
    image's patches of the same size and stride (the image the son patches are a 1/gs copy of),
    in the model's embedding. lr (B, h, w, 3), hr (B, h·scale, w·scale, 3) in [0, pixel_range]."""
    gs, pr = model.graph_scale, model.pixel_range
    _, h, w, _ = lr.shape
    if model.scale != gs:
        hr = jnp.clip(imresize(hr / pr, output_shape=(h * gs, w * gs)) * pr, 0.0, pr)
    lr = lr[:, :h - h % gs, :w - w % gs]
    if model.embedding == "vgg":
        constants = {"constants": variables["constants"]["embedding"]}
        embed = lambda x: VGGEmbedding(pr).apply(constants, x)  # noqa: E731
    else:
        embed = lambda x: x / pr  # noqa: E731

    def patch_vectors(x):
        p = extract_patches(embed(x), model.patch * gs, model.stride * gs)
        return p.reshape(p.shape[:3] + (-1,))

    return windowed_knn(patch_vectors(hr), patch_vectors(lr), model.top_k, model.window, gs)[1]


def zeroing(module_classes):
    """A Flax method interceptor that zeroes every output of the `__call__` of instances of
    `module_classes` (their maths run unchanged; their contribution is removed). Multiplied by
    0 rather than replaced by constants, which XLA would spend long constant-folding."""
    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and isinstance(context.module, module_classes):
            return jax.tree_util.tree_map(lambda value: value * 0, out)
        return out
    return interceptor


def node_permutation(seed: int, nodes: int) -> jax.Array:
    """The permutation (nodes,) of the `shuffled_*` MAGN variants: node i takes node perm[i]'s."""
    return jax.random.permutation(jax.random.PRNGKey(seed), nodes)


def shuffling(graph_class, projection: str, seed: int):
    """A Flax method interceptor that permutes over the nodes the output (B, ..., F) of the
    Dense layer named `projection` of every `graph_class` instance: all axes between the first
    and the last are the nodes, flattened row-major, and node i takes node_permutation[i]'s."""
    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        module = context.module
        if (context.method_name == "__call__" and isinstance(module, nn.Dense)
                and module.name == projection and isinstance(module.parent, graph_class)):
            nodes = out.reshape(out.shape[0], -1, out.shape[-1])
            return nodes[:, node_permutation(seed, nodes.shape[1])].reshape(out.shape)
        return out
    return interceptor


def ignn_forward(model, variables, variant: str, seed: int = 0):
    """(lr (B,h,w,3), hr (B,h·s,w·s,3), both in [0, 1]) → the model's output in [0, 1] (not
    clamped) under an IGNN `variant` (module doc). Pure: jit it."""
    searches = {"knn": windowed_knn, "shuffled": shuffled_search(seed),
                "random": random_search(seed), "self": self_search, "zero": windowed_knn}
    pr = model.pixel_range

    def forward(lr, hr):
        lr, hr = lr * pr, hr * pr
        if variant == "oracle":
            idx = oracle_indices(model, variables, lr, hr)
            search = lambda *_: (None, idx)  # noqa: E731
        else:
            search = searches[variant]
        with nn.intercept_methods(zeroing((GCNBlock,) if variant == "zero" else ())):
            return model.apply(variables, lr, neighbour_search=search) / pr
    return forward


def magn_forward(model, variables, variant: str, pixel_range: float = 1.0, seed: int = 0):
    """(x (B,h,w,C), target) in [0, 1] → MAGN's output in [0, 1] with the level that
    `variant` names zeroed or shuffled in every multi-level block (module doc). Pure: jit it."""
    if variant in MAGN_SHUFFLED:
        interceptor = shuffling(*MAGN_SHUFFLED[variant], seed)
    else:
        interceptor = zeroing(MAGN_ZEROED[variant])

    def forward(x, _target):
        with nn.intercept_methods(interceptor):
            return apply_unit_range(model, variables, x, pixel_range)
    return forward


def probe(checkpoint, data, variants=None, seed: int = 0):
    """Yields one result dict per variant (module doc) for the checkpoint on the images of
    `data` (a folder or a list of image paths)."""
    config, variables = load_checkpoint(checkpoint)
    trained = tasks.task_from_config(config.task)
    model = build_model(config.model, trained.scale)
    task = trained.at_level(hardest=True)
    if config.model.name == "ignn":
        if not model.use_graph:
            raise UserError(f"{checkpoint} is an IGNN without its graph (use_graph=False)")
        known, forward_of = IGNN_VARIANTS, lambda v: ignn_forward(model, variables, v, seed)
    elif config.model.name == "magn":
        known, forward_of = MAGN_VARIANTS, lambda v: magn_forward(model, variables, v,
                                                                   config.model.pixel_range, seed)
    else:
        raise UserError(f"{checkpoint} holds a {config.model.name} model, which has no graph")
    variants = variants or known
    unknown = sorted(set(variants) - set(known))
    if unknown:
        raise UserError(f"unknown variants for {config.model.name}: {', '.join(unknown)}; "
                        f"known: {', '.join(known)}")
    degraded = [(name, protocol.degrade(image, task))
                for name, image in evaluate.FolderImages(data, task.channels)]
    set_name = pathlib.Path(data[0] if isinstance(data, list) else data).name
    for variant in variants:
        forward = jax.jit(forward_of(variant))

        def restore(x, target):
            out = forward(jnp.asarray(x[None], jnp.float32),
                          jnp.asarray(target[None] / 255.0, jnp.float32))
            return np.clip(np.asarray(out[0]), 0.0, 1.0)

        rows = [evaluate.score_degraded(name, d, task, lambda x, t=d.target: restore(x, t))
                for name, d in degraded]
        scores = evaluate.mean_scores([row["model"] for row in rows])
        yield {"variant": variant, "set": set_name, "psnr": round(scores["psnr"], 4),
               "ssim": round(scores["ssim"], 5), "images": len(rows),
               "checkpoint": str(checkpoint)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory or workdir")
    parser.add_argument("--data", required=True, help="folder of ground-truth images")
    parser.add_argument("--variants", help="comma-separated subset (default: all of the model's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffled and random variants (0)")
    args = parser.parse_args(argv)
    try:
        variants = args.variants.split(",") if args.variants else None
        for result in probe(args.checkpoint, args.data, variants, args.seed):
            print(json.dumps(result), flush=True)
    except UserError as error:
        print(f"graph_probe: {error}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as error:
        print(f"graph_probe: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
