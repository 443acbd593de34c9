"""Ship a trained restorer without its Python code: `jax.export` (default) or ONNX artifacts.

    jaxrestore export --checkpoint runs/ignn_tiny_x2 --out exported/ --size 256x256
    jaxrestore export --checkpoint pretrained/dncnn_tiny_s25 --out exported/ --platforms cpu,cuda
    jaxrestore export --checkpoint pretrained/magn_tiny_s25 --out onnx/ --format onnx --size 256x256

Each artifact is the model's restoring function with its weights inside: a float32 batch
(B, H, W, C) in [0, 1], C the model's input channels, → (B, H·s, W·s, C') in [0, 1] (clamped),
s the SR scale; x8 self-ensemble inside when asked. A model whose shapes allow it
(convolution-only ones such as DnCNN) is exported once with symbolic batch, height and width
(`restorer.jaxexport`, any size); models that build static patch grids (IGNN, MAGN) are exported
once per `--size` with the given batch (`restorer_<H>x<W>.jaxexport`). `manifest.json` lists
the files and what they take. What the Python `Restorer` does on the host (padding to a size,
tiling, the colour rule) is the caller's to do.

Run it with jax alone (no jaxrestore):

    import jax, numpy as np
    with open("exported/restorer_256x256.jaxexport", "rb") as f:
        restore = jax.export.deserialize(f.read())
    y = np.asarray(restore.call(x))            # x: float32 (1, 256, 256, 3) in [0, 1]

Lowering for other platforms ('cuda', 'tpu') happens here, on any machine. The convolution
algorithm is decided for the requested platforms (a model's 'auto': Winograd for wide
convolutions when the platforms are CPU only, else XLA's direct one) and recorded in the
manifest as `conv_algorithm`.

`--format onnx` writes `restorer.onnx` / `restorer_<H>x<W>.onnx` with the same input and output
(input `image`, output `restored`), converted by jax2onnx (an optional install, see the README)
with XLA's direct convolutions (ONNX `Conv`):

    import onnxruntime
    session = onnxruntime.InferenceSession("onnx/restorer_256x256.onnx")
    y = session.run(None, {"image": x})[0]    # x: float32 (1, 256, 256, 1) in [0, 1]

DnCNN and MAGN convert; IGNN does not (jax2onnx 0.17.1 has no rule for its kNN gather).
"""
import json
import logging
import pathlib

import jax
import jax.numpy as jnp
from jax import export as jax_export

from jaxrestore.config import model_signature
from jaxrestore.errors import EXIT_RUNTIME, UserError
from jaxrestore.inference import Restorer, conv_algorithm

MANIFEST = "manifest.json"


class ExporterMissing(UserError):
    """The optional package an export format needs is not installed."""

    exit_code = EXIT_RUNTIME

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def _forward(config, variables, platforms, self_ensemble: bool):
    network = Restorer(config, variables, self_ensemble=self_ensemble,
                       platforms=platforms).network()
    return jax.jit(lambda x: jnp.clip(network(x), 0.0, 1.0))


def _artifacts(lower, symbolic: tuple, config, sizes, batch: int, extension: str) -> dict:
    """{file name: lower(input shape)}: one artifact for the `symbolic` (batch, height, width)
    when the model's shapes allow it, else one per (height, width) in `sizes`."""
    channels = model_signature(config).in_channels
    try:
        return {f"restorer.{extension}": lower((*symbolic, channels))}
    except (jax.errors.InconclusiveDimensionOperation, TypeError, ValueError):
        pass  # static patch grids: one artifact per size
    if not sizes:
        raise UserError(f"model {config.model.name!r} needs fixed input sizes to be exported; "
                        "give at least one size (e.g. 256x256)")
    exported = {}
    for height, width in sizes:
        try:
            exported[f"restorer_{height}x{width}.{extension}"] = lower(
                (batch, height, width, channels))
        except UserError:
            raise
        except ValueError as error:  # the model refuses the size (e.g. IGNN below its minimum)
            raise UserError(f"cannot export for {height}x{width}: "
                            f"{str(error).splitlines()[0]}") from None
    return exported


def export_restorer(config, variables, sizes, batch: int = 1, platforms=("cpu",),
                    self_ensemble: bool = False) -> dict:
    """{file name: jax.export.Exported} of the restorer of (config, variables): one symbolic
    artifact when the model's shapes allow it, else one per (height, width) in `sizes`."""
    bad = sorted(set(platforms) - set(PLATFORMS))
    if bad or not platforms:
        raise UserError(f"unknown platform(s) {', '.join(bad) or '(none)'}; known: "
                        f"{', '.join(PLATFORMS)}")
    lower = jax_export.export(_forward(config, variables, platforms, self_ensemble),
                              platforms=tuple(platforms))
    return _artifacts(lambda shape: lower(jax.ShapeDtypeStruct(shape, jnp.float32)),
                      jax_export.symbolic_shape("b, h, w"), config, sizes, batch, "jaxexport")


def export_onnx(config, variables, sizes, batch: int = 1, self_ensemble: bool = False) -> dict:
    """{file name: onnx.ModelProto} of the restorer, by jax2onnx: the same input and output as
    `export_restorer`'s artifacts (NHWC float32 in [0, 1]), with symbolic batch, height and
    width where the model allows. UserError when jax2onnx is missing or cannot convert a
    primitive of the model (IGNN's kNN gather, with jax2onnx 0.17.1)."""
    try:
        from jax2onnx import to_onnx
    except ImportError:
        raise ExporterMissing("ONNX export needs jax2onnx: pip install --no-deps "
                              "jax2onnx==0.17.1 onnx-ir einops (README, 'Bring your own "
                              "weights')") from None
    forward = _forward(config, variables, (), self_ensemble)  # () = direct convolutions

    def lower(shape):
        try:
            return to_onnx(forward, [shape], model_name=f"jaxrestore_{config.model.name}",
                           input_names=["image"], output_names=["restored"])
        except (jax.errors.InconclusiveDimensionOperation, TypeError, ValueError):
            raise
        except Exception as error:  # jax2onnx raises many types for unsupported primitives
            raise UserError(f"jax2onnx cannot convert model {config.model.name!r}: "
                            f"{str(error).splitlines()[0][:100]}") from None

    # jax2onnx warns about its optional example plugins, onnx_ir about untyped shape constants
    loggers = [logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        return _artifacts(lower, ("B", "H", "W"), config, sizes, batch, "onnx")
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)
        # jax2onnx traces with its own primitives patched in; drop the traces it left in the
        # jit caches so that later calls of the same functions lower normally
        jax.clear_caches()


def write(exported: dict, out_dir, config, platforms, self_ensemble: bool) -> pathlib.Path:
    """Writes the artifacts and manifest.json into `out_dir` (created); returns its path."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, artifact in exported.items():
        (out / name).write_bytes(_serialize(artifact))
    model = model_signature(config)
    manifest = {
        "format": "onnx" if any(name.endswith(".onnx") for name in exported) else "jax.export",
        "model": config.model.name, "task": config.task.to_dict(), "scale": model.scale,
        "input": "float32 (B, H, W, C) in [0, 1]", "input_channels": model.in_channels,
        "output": "float32 (B, H*scale, W*scale, C) in [0, 1], clamped",
        "self_ensemble": self_ensemble, "platforms": list(platforms),
        "conv_algorithm": conv_algorithm(config.model, platforms),
        "files": {name: str(input_shape(artifact)) for name, artifact in exported.items()},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _serialize(artifact) -> bytes:
    return artifact.serialize() if hasattr(artifact, "serialize") else \
        artifact.SerializeToString()


def input_shape(artifact) -> tuple:
    """Input shape of a jax.export or ONNX artifact (symbolic dimensions by name)."""
    if hasattr(artifact, "in_avals"):
        return artifact.in_avals[0].shape
    dims = artifact.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_param or d.dim_value for d in dims)
