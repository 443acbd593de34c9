"""Ship a trained restorer without its Python code: `jax.export` artifacts of a checkpoint.

    jaxrestore export --checkpoint runs/ignn_tiny_x2 --out exported/ --size 256x256
    jaxrestore export --checkpoint pretrained/dncnn_tiny_s25 --out exported/ --platforms cpu,cuda

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
"""
import json
import pathlib

import jax
import jax.numpy as jnp
from jax import export as jax_export

from jaxrestore.errors import UserError
from jaxrestore.inference import Restorer, conv_algorithm, load_checkpoint
from jaxrestore.models import signature

MANIFEST = "manifest.json"
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def export_restorer(config, variables, sizes, batch: int = 1, platforms=("cpu",),
                    self_ensemble: bool = False) -> dict:
    """{file name: jax.export.Exported} of the restorer of (config, variables): one symbolic
    artifact when the model's shapes allow it, else one per (height, width) in `sizes`."""
    bad = sorted(set(platforms) - set(PLATFORMS))
    if bad or not platforms:
        raise UserError(f"unknown platform(s) {', '.join(bad) or '(none)'}; known: "
                        f"{', '.join(PLATFORMS)}")
    network = Restorer(config, variables, self_ensemble=self_ensemble,
                       platforms=platforms).network()
    forward = jax.jit(lambda x: jnp.clip(network(x), 0.0, 1.0))
    channels = signature(config.model).in_channels
    lower = jax_export.export(forward, platforms=tuple(platforms))
    b, h, w = jax_export.symbolic_shape("b, h, w")
    try:
        return {"restorer.jaxexport": lower(jax.ShapeDtypeStruct((b, h, w, channels),
                                                                 jnp.float32))}
    except (jax.errors.InconclusiveDimensionOperation, TypeError, ValueError):
        pass  # static patch grids: one artifact per size
    if not sizes:
        raise UserError(f"model {config.model.name!r} needs fixed input sizes to be exported; "
                        "give at least one size (e.g. 256x256)")
    exported = {}
    for height, width in sizes:
        try:
            exported[f"restorer_{height}x{width}.jaxexport"] = lower(
                jax.ShapeDtypeStruct((batch, height, width, channels), jnp.float32))
        except ValueError as error:  # the model refuses the size (e.g. IGNN below its minimum)
            raise UserError(f"cannot export for {height}x{width}: "
                            f"{str(error).splitlines()[0]}") from None
    return exported


def write(exported: dict, out_dir, config, platforms, self_ensemble: bool) -> pathlib.Path:
    """Writes the artifacts and manifest.json into `out_dir` (created); returns its path."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, artifact in exported.items():
        (out / name).write_bytes(artifact.serialize())
    model = signature(config.model)
    manifest = {
        "model": config.model.name, "task": config.task.to_dict(), "scale": model.scale,
        "input": "float32 (B, H, W, C) in [0, 1]", "input_channels": model.in_channels,
        "output": "float32 (B, H*scale, W*scale, C) in [0, 1], clamped",
        "self_ensemble": self_ensemble, "platforms": list(platforms),
        "conv_algorithm": conv_algorithm(config.model, platforms),
        "files": {name: str(artifact.in_avals[0].shape) for name, artifact in exported.items()},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out
