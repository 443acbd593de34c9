"""Convert PyTorch DnCNN state dicts (plain 3×3 convolution stacks) to jaxrestore checkpoints.

Two layouts are recognised, both an `nn.Sequential` whose numbered children are convolutions
(4-D `weight`, optional `bias`) and batch norms (`weight`, `bias`, `running_mean`,
`running_var`); ReLUs hold no tensors and only leave gaps in the numbering:

- KAIR's DnCNN (`model.{2i}.weight/bias`, BN already merged into the convolutions, a bias on
  every one): conv ─ ReLU ─ (depth − 2) × [conv ─ ReLU] ─ conv;
- DnCNN with separate BN tensors (KAIR before merging, the common PyTorch ports): conv ─ ReLU ─
  (depth − 2) × [conv ─ BN ─ ReLU] ─ conv. BN is folded into the convolution before it:
  W' = W·γ/√(var + ε), b' = (b − mean)·γ/√(var + ε) + β (ε is not stored: PyTorch's default
  1e-5 unless given; KAIR's unmerged models used 1e-4).

Depth, width and colour come from the shapes. Both nets predict the noise (output = input −
net(input), images in [0, 1]); our DnCNN adds its last convolution to the input, so that
convolution is negated.
"""
import dataclasses
import re

import ml_collections
import numpy as np

from jaxrestore.convert import ConversionError, to_flax
from jaxrestore.models import model_config
from jaxrestore.models.dncnn import DnCNN

LAYER_KEY = re.compile(r"(.+)\.(\d+)\.(weight|bias|running_mean|running_var)")
BN_FIELDS = {"weight", "bias", "running_mean", "running_var"}
KAIR_PREFIX = "model"


@dataclasses.dataclass(frozen=True)
class Conv:
    """index: position in the Sequential; weight (O, I, 3, 3); bias (O,) or None."""
    index: int
    weight: np.ndarray
    bias: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class BatchNorm:
    """index: position in the Sequential; every array (C,)."""
    index: int
    weight: np.ndarray
    bias: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray


def sequential_layers(state: dict) -> tuple[str, list] | None:
    """(prefix, [Conv | BatchNorm] in order) if every key is `<prefix>.<i>.<field>` of one
    prefix and every child is a conv or a BN; None otherwise."""
    matches = [LAYER_KEY.fullmatch(key) for key in state]
    if not matches or not all(matches) or len({m.group(1) for m in matches}) != 1:
        return None
    children = {}
    for m in matches:
        children.setdefault(int(m.group(2)), {})[m.group(3)] = state[m.group(0)]
    layers = []
    for index, fields in sorted(children.items()):
        if fields.keys() == BN_FIELDS and all(v.ndim == 1 for v in fields.values()):
            layers.append(BatchNorm(index, **fields))
        elif fields.keys() in ({"weight"}, {"weight", "bias"}) and fields["weight"].ndim == 4:
            layers.append(Conv(index, fields["weight"], fields.get("bias")))
        else:
            return None
    return matches[0].group(1), layers


def dncnn_stack(layers: list) -> list[tuple[Conv, BatchNorm | None]] | None:
    """[(conv, BN after it or None)] if `layers` is a DnCNN: ≥ 2 3×3 convs, grey or RGB in and
    out, one width inside, BN after every middle conv or after none; None otherwise."""
    stack = []
    for layer in layers:
        if isinstance(layer, Conv):
            stack.append((layer, None))
        elif stack and stack[-1][1] is None and stack[-1][0].weight.shape[0] == layer.weight.size:
            stack[-1] = (stack[-1][0], layer)
        else:
            return None
    if len(stack) < 2:
        return None
    convs = [conv for conv, _ in stack]
    channels, n_feats = convs[0].weight.shape[1], convs[0].weight.shape[0]
    shapes = [conv.weight.shape for conv in convs]
    expected = ([(n_feats, channels, 3, 3)] + [(n_feats, n_feats, 3, 3)] * (len(convs) - 2)
                + [(channels, n_feats, 3, 3)])
    with_bn = [bn is not None for _, bn in stack]
    bias_ok = all(conv.bias is None or conv.bias.shape == (conv.weight.shape[0],)
                  for conv in convs)
    if (channels not in (1, 3) or shapes != expected or not bias_ok
            or with_bn not in ([False] * len(stack), [False] + [True] * (len(stack) - 2) + [False])):
        return None
    return stack


def is_kair_dncnn(state: dict) -> bool:
    """KAIR's merged DnCNN: `model.{2i}.weight/bias`, no BN, a bias on every conv."""
    parsed = sequential_layers(state)
    stack = parsed and parsed[0] == KAIR_PREFIX and dncnn_stack(parsed[1])
    return bool(stack) and all(bn is None and conv.bias is not None and conv.index == 2 * i
                               for i, (conv, bn) in enumerate(stack))


def is_dncnn_with_bn(state: dict) -> bool:
    """A DnCNN with separate BN tensors after its middle convolutions (any prefix)."""
    parsed = sequential_layers(state)
    stack = parsed and dncnn_stack(parsed[1])
    return bool(stack) and len(stack) > 2 and stack[1][1] is not None


def fold_batch_norm(conv: Conv, bn: BatchNorm | None, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(weight OIHW, bias) of the conv followed by the BN (in inference mode) as one conv."""
    bias = conv.bias if conv.bias is not None else np.zeros(conv.weight.shape[0], np.float32)
    if bn is None:
        return conv.weight, bias
    scale = bn.weight / np.sqrt(bn.running_var + eps)
    return conv.weight * scale[:, None, None, None], (bias - bn.running_mean) * scale + bn.bias


def convert_dncnn(state: dict, sigma: float | None, bn_eps: float = 1e-5):
    """(config, Flax variables) of a DnCNN state dict (either layout above) for grey or colour
    Gaussian denoising at `sigma` (on the 0..255 scale). Raises ConversionError if the state
    dict is not a DnCNN or `sigma` is missing."""
    parsed = sequential_layers(state)
    stack = parsed and dncnn_stack(parsed[1])
    if not stack:
        raise ConversionError("not a DnCNN: expected one nn.Sequential of 3x3 convolutions "
                              "(with batch norms after the middle ones, or none)")
    if sigma is None:
        raise ConversionError("the weights do not record the noise level; give sigma")
    params = {}
    for i, (conv, bn) in enumerate(stack):
        weight, bias = fold_batch_norm(conv, bn, bn_eps)
        sign = -1.0 if i == len(stack) - 1 else 1.0  # x − net(x) → x + conv(...)
        params[f"conv_{i}"] = {"kernel": sign * to_flax(weight).astype(np.float32),
                               "bias": sign * bias.astype(np.float32)}
    first = stack[0][0].weight
    model = model_config(DnCNN, "dncnn", channels=int(first.shape[1]),
                         n_feats=int(first.shape[0]), depth=len(stack), batch_norm=False)
    model.pixel_range = 1.0
    config = ml_collections.ConfigDict({"model": model.to_dict(), "task": {
        "name": "denoise", "channels": model.channels, "sigma": float(sigma)}})
    return config, {"params": params}
