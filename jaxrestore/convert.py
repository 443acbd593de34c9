"""Convert original IGNN PyTorch checkpoints to jaxrestore checkpoints (the library side of
`jaxrestore convert ignn IGNN_x2.pth OUT_DIR [--config ignn_x2]`, jaxrestore/cli).

Reads a state_dict from `.pth` (torch's zip or legacy layout, without torch and without running
pickled code: `jaxrestore.weights.pth`), `.safetensors` or `.npz` (NumPy arrays keyed by the
PyTorch names). Accepts a bare state_dict, the released `{'net_state_dict': ...}` wrapper and
`module.` prefixes (DataParallel). The VGG embedding, stored twice by the original
(`vggnet.*` and `graph.embedcnn.*`), is checked equal and kept once. Every tensor must be used
and fit its place; otherwise the error names the offending keys.

The model config is inferred from the tensor shapes (n_feats, n_resblocks, scale, graph and
embedding present); settings that no tensor records (top_k, window, patch, stride, res_scale)
take the paper's values unless a config is given, whose shape-determined fields
must agree with the weights. The output directory is a checkpoint for
`jaxrestore.checkpoints.load_for_inference`; its config holds the `model` and `task` sections
(the whole `--config` file when given).
"""
import re

import jax
import ml_collections
import numpy as np

from jaxrestore.errors import UserError
from jaxrestore.models import ignn
from jaxrestore.weights.state_dict import load_state_dict  # noqa: F401 (the reader, re-exported)

VGG_PREFIXES = ("vggnet.", "graph.embedcnn.")
TORCH_LEAF = {"kernel": "weight", "bias": "bias"}


class ConversionError(UserError):
    """The checkpoint does not fit the model (message names the offending keys)."""


def _short(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def dedupe_embedding(state: dict) -> dict:
    """Keeps one copy of the VGG embedding under `vggnet.*` (checks both copies are equal)."""
    state = dict(state)
    copies = {prefix: {k[len(prefix):]: state.pop(k) for k in list(state) if k.startswith(prefix)}
              for prefix in VGG_PREFIXES}
    first, second = (copies[p] for p in VGG_PREFIXES)
    if first and second:
        if first.keys() != second.keys():
            raise ConversionError("vggnet.* and graph.embedcnn.* hold different tensors: "
                                  + _short(first.keys() ^ second.keys()))
        differ = [k for k in first if first[k].shape != second[k].shape
                  or not np.array_equal(first[k], second[k])]
        if differ:
            raise ConversionError("vggnet.* and graph.embedcnn.* differ at: " + _short(differ))
    for name, value in (first or second).items():
        state[VGG_PREFIXES[0] + name] = value
    return state


def _require(state, *keys):
    missing = [k for k in keys if k not in state]
    if missing:
        raise ConversionError("missing keys in state_dict: " + _short(missing))


def infer_ignn_config(state: dict, **settings) -> ml_collections.ConfigDict:
    """IGNN `model` config from state_dict shapes; `settings` set the shape-free fields."""
    _require(state, "head.0.weight", "upsample.0.weight")
    n_feats = state["head.0.weight"].shape[0]

    def count(prefix):
        return len({m.group(1) for k in state
                    if (m := re.match(rf"{prefix}\.(\d+)\.body\.0\.weight$", k))})

    n_resblocks = count("body1") + count("body2")
    if "tail.1.0.weight" in state:
        scale = 4
    else:
        ratio = state["upsample.0.weight"].shape[0] // n_feats
        if ratio not in (4, 9):
            raise ConversionError(f"upsample.0.weight has shape {state['upsample.0.weight'].shape}"
                                  f", not 4 or 9 times n_feats={n_feats}")
        scale = {4: 2, 9: 3}[ratio]
    use_graph = any(k.startswith("gcn.") for k in state)
    embedding = "vgg" if any(k.startswith(VGG_PREFIXES) for k in state) else "pixels"
    return ignn.model_config(scale, n_resblocks=n_resblocks, n_feats=n_feats,
                             use_graph=use_graph, embedding=embedding, **settings)


def ignn_torch_key(path: tuple[str, ...], model_config) -> str:
    """PyTorch state_dict key of the Flax variable at `path` = (collection, *modules, leaf)."""
    _, *modules, leaf = path
    name = "/".join(modules)
    n_post = model_config.n_resblocks - model_config.n_resblocks // 2
    tail = "tail.1.0" if model_config.scale != ignn.graph_scale_for(model_config.scale) else "tail.0.0"
    rules = [
        (r"(sub_mean|add_mean)", r"\1"),
        (r"embedding/sub_mean", "vggnet.sub_mean"),
        (r"embedding/conv1_1", "vggnet.model.0"),
        (r"embedding/conv1_2", "vggnet.model.2"),
        (r"head", "head.0"),
        (r"(body[12])_(\d+)/conv0", r"\1.\2.body.0"),
        (r"(body[12])_(\d+)/conv1", r"\1.\2.body.2"),
        (r"body2_conv", f"body2.{n_post}.0"),
        (r"gcn/knn_down(\d+)", r"gcn.knn_downsample.\1.0"),
        (r"gcn/(weightnet_[lh]r)/conv_in", r"gcn.\1.0.0"),
        (r"gcn/(weightnet_[lh]r)/res/conv0", r"gcn.\1.1.body.0"),
        (r"gcn/(weightnet_[lh]r)/res/conv1", r"gcn.\1.1.body.2"),
        (r"gcn/(weightnet_[lh]r)/conv_out", r"gcn.\1.2.0"),
        (r"(fuse_b|fuse_up)(\d+)", r"\1.\2.0"),
        (r"upsample/conv(\d+)", lambda m: f"upsample.{2 * int(m.group(1))}"),
        (r"tail_up/conv(\d+)", lambda m: f"tail.0.{2 * int(m.group(1))}"),
        (r"tail", tail),
    ]
    for pattern, replacement in rules:
        if re.fullmatch(pattern, name):
            module = re.sub(pattern, replacement, name)
            return f"{module}.{TORCH_LEAF[leaf]}"
    raise KeyError(f"no PyTorch name for IGNN variable {'/'.join(path)}")


def to_flax(array: np.ndarray) -> np.ndarray:
    """PyTorch conv weight OIHW → Flax HWIO; other arrays unchanged."""
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array


def convert_ignn(state: dict, config: ml_collections.ConfigDict | None = None):
    """(PyTorch IGNN state_dict, optional full config) → (config, Flax variables).

    Without `config`, the result holds the inferred `model` section and an SR `task` section.
    Raises ConversionError naming missing, unused or mis-shaped keys.
    """
    state = dedupe_embedding(state)
    if config is None:
        model_config = infer_ignn_config(state)
        config = ml_collections.ConfigDict({"model": model_config.to_dict(), "task": {
            "name": "sr", "channels": 3, "scale": model_config.scale}})
    else:
        fields = ("scale", "n_resblocks", "n_feats", "use_graph", "embedding")
        model_config = infer_ignn_config(state, **{
            key: value for key, value in config.model.items()
            if key not in fields and key != "name"})
        # a run config's scale is its task's (a bare model section may hold its own)
        given = {"scale": config.get("task", {}).get("scale"), **config.model}
        wrong = [f"{key}={given.get(key)!r} (weights: {model_config[key]!r})"
                 for key in fields if given.get(key) != model_config[key]]
        if wrong:
            raise ConversionError("config does not match the weights: " + ", ".join(wrong))

    return config, ignn_variables_from_torch(state, model_config)


def ignn_variables_from_torch(tensors: dict, model_config,
                              collections: tuple[str, ...] | None = None) -> dict:
    """PyTorch-named IGNN tensors → the Flax variable tree they fill, for `model_config`.

    tensors: {PyTorch state_dict name: array in PyTorch layout} (the VGG embedding once, under
      `vggnet.*`, see `dedupe_embedding`); conv weights OIHW become HWIO.
    collections: the Flax collections to fill (default: all, 'params' and 'constants'); e.g.
      ('params',) for the gradients of the trainable tensors, which the original names alike.
    Every variable of those collections must be given and every tensor used: raises
    ConversionError naming missing, unused or mis-shaped keys.
    """
    model = ignn.from_config(model_config)
    gs = ignn.graph_scale_for(model_config.scale)
    size = max(3 * gs * model_config.patch, 16)
    lr = jax.ShapeDtypeStruct((1, size, size, 3), np.float32)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), lr)
    flat = {path: leaf for path, leaf in _flatten(shapes)
            if collections is None or path[0] in collections}
    keys = {path: ignn_torch_key(path, model_config) for path in flat}

    missing = sorted(set(keys.values()) - tensors.keys())
    unused = sorted(tensors.keys() - set(keys.values()))
    if missing or unused:
        parts = (["missing keys in state_dict: " + _short(missing)] if missing else []) + (
            ["unused keys in state_dict: " + _short(unused)] if unused else [])
        raise ConversionError("; ".join(parts))
    bad = [f"{keys[p]} {tensors[keys[p]].shape} (model needs {_torch_shape(leaf.shape)})"
           for p, leaf in flat.items() if to_flax(tensors[keys[p]]).shape != leaf.shape]
    if bad:
        raise ConversionError("shape mismatch: " + _short(bad))

    variables = {}
    for path in flat:
        node = variables
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = to_flax(tensors[keys[path]])
    return variables


def _torch_shape(shape):
    return tuple(shape[i] for i in (3, 2, 0, 1)) if len(shape) == 4 else tuple(shape)


def _flatten(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, prefix + (key,))
        else:
            yield prefix + (key,), value
