"""Model registry: a model config (`config.model`) → a Flax linen module.

Contract shared by training, evaluation and the converters:

- `config.model.name` picks the module (see `MODELS`); the other fields are the module's
  constructor arguments (`module_kwargs`), so a module's defaults live in one place, its class.
- `config.model.pixel_range` is the value of white at the model's input and output
  (IGNN: 255, as the original; MAGN: 1).
- A model is called as `module.apply(variables, x)` with `x` of shape (B, h, w, C) in
  [0, pixel_range]. Trainable weights live in the `params` collection; frozen ones (IGNN's mean
  shift and VGG embedding) in other collections that the optimiser never sees.
- A model with batch statistics (the `batch_stats` collection: DnCNN with BN) also takes
  `train` and `batch_axis` keywords; training calls it through `apply_for_training`.
- `signature(model_config)` says what a model takes and gives (channels, scale, tasks) without
  building it, so configs can be checked before any model setup.
"""
import dataclasses
import importlib

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrestore.errors import ConfigError

# Computation dtypes. Parameters, and the parts kept at least float32 (statistics, softmaxes,
# outputs), are float32, or float64 in a float64 model (which needs JAX_ENABLE_X64=1).
DTYPES = ("float32", "bfloat16", "float64")
MODELS = {
    "ignn": "jaxrestore.models.ignn",
    "magn": "jaxrestore.models.magn",
    "dncnn": "jaxrestore.models.dncnn",
}


@dataclasses.dataclass(frozen=True)
class Signature:
    """What a model maps: (B, h, w, in_channels) → (B, h*scale, w*scale, out_channels).

    tasks: the tasks it is built for; min_size: the smallest input height and width it takes.
    """

    in_channels: int
    out_channels: int
    scale: int
    tasks: tuple
    min_size: int = 1


def _module(model_config):
    name = model_config.get("name", "")
    if name not in MODELS:
        raise ConfigError(f"unknown model.name {name!r}; known: {', '.join(sorted(MODELS))}")
    return importlib.import_module(MODELS[name])


def build_model(model_config) -> nn.Module:
    """Builds the Flax module named by `model_config.name` (ConfigError for unknown fields)."""
    return _module(model_config).from_config(model_config)


def signature(model_config) -> Signature:
    """The `Signature` of the model `model_config` describes (checks its fields, builds nothing)."""
    module = _module(model_config)
    module_kwargs(module.MODULE, model_config)
    return module.signature(model_config)


def module_kwargs(module_class, model_config) -> dict:
    """The fields of `model_config` other than `name`, as keyword arguments of `module_class`
    (`pixel_range` only if the module has that field); an unknown field is a ConfigError."""
    fields = {f.name for f in dataclasses.fields(module_class)} - {"parent", "name"}
    kwargs = {k: v for k, v in model_config.items() if k != "name"}
    if "pixel_range" not in fields:
        kwargs.pop("pixel_range", None)
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise ConfigError(f"unknown {module_class.__name__} config fields: {', '.join(unknown)}"
                          f" (known: {', '.join(sorted(fields))})")
    if kwargs.get("dtype", "float32") not in DTYPES:
        raise ConfigError(f"model.dtype must be one of {', '.join(DTYPES)}, not "
                          f"{kwargs['dtype']!r}")
    if kwargs.get("dtype") == "float64" and not jax.config.jax_enable_x64:
        raise ConfigError("model.dtype=float64 needs 64-bit JAX: set JAX_ENABLE_X64=1")
    return kwargs


def wide_dtype(dtype) -> jnp.dtype:
    """The dtype of a model's parameters and of its parts kept at least float32 (statistics,
    softmaxes, the output) for computation dtype `dtype`: float32, or float64 for float64."""
    return jnp.promote_types(dtype, jnp.float32)


def model_config(module_class, name: str, **fields):
    """A `model` config section named `name` holding every field of `module_class` at its
    default (its `pixel_range` too, which the registry reads), with `fields` applied (an
    unknown one is a ConfigError)."""
    import ml_collections

    defaults = {f.name: f.default for f in dataclasses.fields(module_class)
                if f.name not in ("parent", "name") and f.default is not dataclasses.MISSING}
    unknown = sorted(set(fields) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown {module_class.__name__} config fields: {', '.join(unknown)}")
    return ml_collections.ConfigDict({"name": name, **defaults, **fields})


BATCH_STATS = "batch_stats"


def apply_unit_range(module: nn.Module, variables, x, pixel_range: float):
    """Runs `module` on images in [0, 1] and returns its output in [0, 1] (not clamped).

    x: (B, h, w, C) in [0, 1]. Batch statistics, if any, are the running ones (inference).
    """
    return module.apply(variables, x * pixel_range) / pixel_range


def apply_for_training(module: nn.Module, variables, x, pixel_range: float,
                       batch_axis: str | None = None):
    """`apply_unit_range` in training mode: returns (output in [0, 1], updated collections).

    A model with batch statistics normalises by those of the batch x (B, h, w, C), averaged
    over the mapped axis `batch_axis` (None: this call's batch only), and the updates hold its
    new running statistics ({'batch_stats': ...}); other models give {} updates.
    """
    if BATCH_STATS not in variables:
        return apply_unit_range(module, variables, x, pixel_range), {}
    out, updates = module.apply(variables, x * pixel_range, train=True, batch_axis=batch_axis,
                                mutable=[BATCH_STATS])
    return out / pixel_range, updates
