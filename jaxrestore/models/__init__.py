"""Model registry: a model config (`config.model`) → a Flax linen module.

Contract shared by training, evaluation and the converters:

- `config.model.name` picks the module (see `MODELS`); the other fields are the module's
  constructor arguments (`module_kwargs`), so a module's defaults live in one place, its class.
  The scale is not one of them: it is the task's, passed to `build_model` and `signature` (a
  model section may hold one only when it describes a network apart from a run, e.g. converted
  weights or a checkpoint stored before; it must then agree).
- `config.model.pixel_range` is the value of white at the model's input and output
  (IGNN: 255, as the original; MAGN: 1).
- A model is called as `module.apply(variables, x)` with `x` of shape (B, h, w, C) in
  [0, pixel_range]. Trainable weights live in the `params` collection; frozen ones (IGNN's mean
  shift and VGG embedding) in other collections that the optimiser never sees.
- A model with batch statistics (the `batch_stats` collection: DnCNN with BN) also takes
  `train` and `batch_axis` keywords; training calls it through `apply_for_training`.
- `signature(model_config)` says what a model takes and gives (channels, scale, smallest input)
  without building it, so configs can be checked before any model setup.
- Each model file (ignn.py, magn.py, dncnn.py) provides `MODULE`, `from_config` and
  `signature`, and imports only `jaxrestore.models.base` (the shared pieces) and lower layers;
  this file imports the model files, never the other way round.
"""
import dataclasses

import flax.linen as nn
import ml_collections

from jaxrestore.errors import ConfigError
from jaxrestore.models import dncnn, ignn, magn
from jaxrestore.models.base import (BATCH_STATS, DERIVED, DTYPES, Signature,
                                    apply_for_training, apply_unit_range, model_config,
                                    module_kwargs, wide_dtype)

__all__ = ["BATCH_STATS", "DERIVED", "DTYPES", "MODELS", "Signature", "apply_for_training",
           "apply_unit_range", "build_model", "display_name", "model_config", "module_kwargs",
           "RENAMED", "renamed_fields", "signature", "stored_model_config", "wide_dtype"]
MODELS = {"ignn": ignn, "magn": magn, "dncnn": dncnn}
# Fields a stored checkpoint config may lack, at the value it was trained with: MAGN and DnCNN
# configs held no `dtype` before it became a field of every config, MAGN none of
# `residual_base` before demosaicing could refine the bilinear estimate.
STORED_DEFAULTS = {"dtype": "float32", "residual_base": "input"}
# Fields renamed so that every model spells them alike (old → new): DnCNN's width was
# `features`, IGNN's neighbours and graph patch `k` and `patch_size` (MAGN's spelling won).
# Checkpoints stored before hold the old names; they are read under the new ones.
RENAMED = {"features": "n_feats", "k": "top_k", "patch_size": "patch"}


def _module(model_config):
    name = model_config.get("name", "")
    if name not in MODELS:
        raise ConfigError(f"unknown model.name {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def renamed_fields(stored) -> dict:
    """A `model` section read from a checkpoint with its RENAMED fields under their new names."""
    return {RENAMED.get(k, k): v for k, v in stored.items()}


def stored_model_config(stored: dict, fields) -> dict:
    """A `model` section read from a checkpoint as a config with `fields` would hold it: old
    field names under their new ones (RENAMED), the fields added since at the values it was
    trained with (STORED_DEFAULTS), DERIVED ones it stored (the scale, which the task section
    holds too) left out unless `fields` has them."""
    upgraded = {**{k: v for k, v in STORED_DEFAULTS.items() if k in fields},
                **renamed_fields(stored)}
    return {k: v for k, v in upgraded.items() if k in fields or k not in DERIVED}


def _with_scale(model_config, scale: int | None):
    """(model file, its config section with `scale` set where the class has that field).
    `scale` None: the section's own (a bare network's), else 1 for a model without a scale."""
    module = _module(model_config)
    config = dict(model_config.items())
    stored = config.pop("scale", None)
    has_scale = "scale" in {f.name for f in dataclasses.fields(module.MODULE)}
    if scale is None and stored is None and has_scale:
        raise ConfigError(f"model {config.get('name')!r} takes the task's scale: "
                          "build_model(model_config, task.scale)")
    scale = (stored or 1) if scale is None else scale
    if stored is not None and stored != scale:
        raise ConfigError(f"task.scale={scale} but the model upscales x{stored} (model.scale); "
                          "change both, or use a config made for the task")
    if has_scale:
        config["scale"] = scale
    elif scale != 1:
        raise ConfigError(f"model {config.get('name')!r} keeps the image size; it cannot "
                          f"restore at task.scale={scale}")
    return module, ml_collections.ConfigDict(config)


def build_model(model_config, scale: int | None = None) -> nn.Module:
    """Builds the Flax module named by `model_config.name` at `scale` (the task's; None: the
    section's own, else 1); ConfigError for unknown fields or a scale it cannot take."""
    module, config = _with_scale(model_config, scale)
    return module.from_config(config)


def display_name(model_config) -> str:
    """The model's name in tables and results.json: the model file's `display_name` where it
    has one (IGNN without its graph is 'edsr'), else model.name."""
    module = _module(model_config)
    return getattr(module, "display_name", lambda config: config.name)(model_config)


def signature(model_config, scale: int | None = None) -> Signature:
    """The `Signature` of the model `model_config` describes at `scale` (as `build_model`;
    checks its fields, builds nothing)."""
    module, config = _with_scale(model_config, scale)
    module_kwargs(module.MODULE, config)
    return module.signature(config)
