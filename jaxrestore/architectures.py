"""Which network a state dict holds, read from its keys and shapes (spandrel's approach).

`ARCHITECTURES` is the table: each row has a small pure `detect(state) -> bool` and a
`convert(state, options) -> (config, variables)`. The first row whose detector accepts a state
dict converts it; when none does, the error says what was seen and what each row needs.
`convert_file` reads a weights file (any format of `jaxrestore.weights.state_dict`), converts
it and records where it came from (`config.source`: file name, sha256, architecture, licence).
"""
import dataclasses
import pathlib
import re
from typing import Callable

import ml_collections

from jaxrestore.convert import ConversionError, convert_ignn
from jaxrestore.convert_dncnn import convert_dncnn, is_dncnn_with_bn, is_kair_dncnn
from jaxrestore.weights.state_dict import file_sha256, load_state_dict


@dataclasses.dataclass(frozen=True)
class Options:
    """What no tensor records. sigma: noise level of a denoiser (0..255 scale); bn_eps: the
    batch norms' ε; config: a full config whose model section must fit the weights (IGNN)."""
    sigma: float | None = None
    bn_eps: float = 1e-5
    config: ml_collections.ConfigDict | None = None


@dataclasses.dataclass(frozen=True)
class Architecture:
    """name: what the command line calls it; needs: what `detect` looks for, in words."""
    name: str
    title: str
    needs: str
    detect: Callable[[dict], bool]
    convert: Callable[[dict, Options], tuple]


def is_ignn(state: dict) -> bool:
    """IGNN (plain or with the released wrapper, unwrapped by the reader): head and upsampler."""
    return "head.0.weight" in state and "upsample.0.weight" in state


def _dncnn(state: dict, options: Options):
    return convert_dncnn(state, options.sigma, options.bn_eps)


ARCHITECTURES = (
    Architecture("ignn", "IGNN, Zhou et al. 2020, scale from the upsampler",
                 "head.0.weight and upsample.0.weight", is_ignn,
                 lambda state, options: convert_ignn(state, options.config)),
    Architecture("dncnn", "KAIR DnCNN, batch norm merged into the convolutions",
                 "only model.{2i}.weight and .bias, a stack of 3x3 convolutions from and to "
                 "1 or 3 channels", is_kair_dncnn, _dncnn),
    Architecture("dncnn-bn", "DnCNN with separate batch-norm tensors, folded when converting",
                 "one <prefix>.<i>.* stack of 3x3 convolutions with running_mean/running_var "
                 "after each middle one", is_dncnn_with_bn, _dncnn),
)
BY_NAME = {architecture.name: architecture for architecture in ARCHITECTURES}


def describe(state: dict, limit: int = 3) -> str:
    """'N tensors: key (shape), ...' for messages."""
    shown = ", ".join(f"{key} {tuple(value.shape)}" for key, value in list(state.items())[:limit])
    return f"{len(state)} tensors: {shown}{', ...' if len(state) > limit else ''}"


def detect(state: dict) -> Architecture:
    """The first row of ARCHITECTURES whose detector accepts `state` (ConversionError if none)."""
    for architecture in ARCHITECTURES:
        if architecture.detect(state):
            return architecture
    needs = "; ".join(f"{a.name} needs {a.needs}" for a in ARCHITECTURES)
    raise ConversionError(f"no known architecture in {describe(state)} ({needs})")


def sigma_from_name(path) -> float | None:
    """The noise level in a file name such as KAIR's `dncnn_25.pth` or `net_s15.pth`."""
    match = re.search(r"(?:^|[_-])(?:s|sigma)?(\d{1,3})$", pathlib.Path(path).stem)
    return float(match.group(1)) if match else None


def convert_file(path, architecture: str | None = None, options: Options = Options(),
                 licence: str | None = None):
    """(config, Flax variables, Architecture) of the weights file at `path`; `architecture`
    (a name in BY_NAME) skips detection. A missing sigma is taken from the file name. The
    config's `source` section records the file's name and sha256, the architecture and
    `licence` (text, or None)."""
    state = load_state_dict(path)
    chosen = BY_NAME[architecture] if architecture else detect(state)
    if options.sigma is None:
        options = dataclasses.replace(options, sigma=sigma_from_name(path))
    config, variables = chosen.convert(state, options)
    config.source = ml_collections.ConfigDict({
        "file": pathlib.Path(path).name, "sha256": file_sha256(path),
        "architecture": chosen.name, "licence": licence})
    return config, variables, chosen
