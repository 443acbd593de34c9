"""What the model files share: the `Signature` of a model, config fields as constructor
arguments, and the [0, 1] image convention (see jaxrestore/models/__init__.py)."""
import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrestore.errors import ConfigError

# Computation dtypes. Parameters, and the parts kept at least float32 (statistics, softmaxes,
# outputs), are float32, or float64 in a float64 model (which needs JAX_ENABLE_X64=1).
DTYPES = ("float32", "bfloat16", "float64")
BATCH_STATS = "batch_stats"
# Module fields a run config does not store: set from its task when the model is built.
DERIVED = ("scale",)


@dataclasses.dataclass(frozen=True)
class Signature:
    """What a model maps: (B, h, w, in_channels) → (B, h*scale, w*scale, out_channels).

    min_size: the smallest input height and width it takes.
    """

    in_channels: int
    out_channels: int
    scale: int
    min_size: int = 1


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
    missing = sorted(set(DERIVED) & fields - set(kwargs))
    if missing:  # never the class default: a run's scale is its task's
        raise ConfigError(f"the model section has no {', '.join(missing)}; build it with "
                          "jaxrestore.models.build_model(model_config, task.scale)")
    return kwargs


def wide_dtype(dtype) -> jnp.dtype:
    """The dtype of a model's parameters and of its parts kept at least float32 (statistics,
    softmaxes, the output) for computation dtype `dtype`: float32, or float64 for float64."""
    return jnp.promote_types(dtype, jnp.float32)


def model_config(module_class, name: str, **fields):
    """A `model` config section named `name` holding every field of `module_class` at its
    default, and `pixel_range` (the registry's: the class's default if it has the field, else
    1), with `fields` applied (an unknown one is a ConfigError). The class is the one home of
    the defaults; a config sets only what differs. DERIVED fields (the scale) are left out:
    the task sets them (`jaxrestore.models.build_model`)."""
    import ml_collections

    defaults = {"pixel_range": 1.0}
    defaults.update({f.name: f.default for f in dataclasses.fields(module_class)
                     if f.name not in ("parent", "name", *DERIVED)
                     and f.default is not dataclasses.MISSING})
    unknown = sorted(set(fields) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown {module_class.__name__} config fields: {', '.join(unknown)}")
    return ml_collections.ConfigDict({"name": name, **defaults, **fields})


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
