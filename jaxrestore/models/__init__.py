"""Model registry: a model config (`config.model`) → a Flax linen module.

Contract shared by training, evaluation and the converters:

- `config.model.name` picks the module (see `MODELS`); that module's `from_config(model_config)`
  builds it from the remaining fields.
- `config.model.pixel_range` is the value of white at the model's input and output
  (IGNN: 255, as the original; MAGN: 1).
- A model is called as `module.apply(variables, x, **extra_images)` with `x` of shape
  (B, h, w, C) in [0, pixel_range]; `extra_images` are further image inputs in the same range
  (IGNN's optional `son`). Trainable weights live in the `params` collection; frozen ones
  (IGNN's mean shift and VGG embedding) in other collections that the optimiser never sees.
"""
import dataclasses
import importlib

import flax.linen as nn

MODELS = {
    "ignn": "jaxrestore.models.ignn",
    "magn": "jaxrestore.models.magn",
    "dncnn": "jaxrestore.models.dncnn",
}


def build_model(model_config) -> nn.Module:
    """Builds the Flax module named by `model_config.name`."""
    name = model_config.name
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return importlib.import_module(MODELS[name]).from_config(model_config)


def module_kwargs(module_class, model_config) -> dict:
    """The fields of `model_config` other than the registry's (`name`, `pixel_range`), as
    keyword arguments of `module_class`; an unknown field is a one-line ValueError."""
    fields = {f.name for f in dataclasses.fields(module_class)} - {"parent", "name"}
    kwargs = {k: v for k, v in model_config.items() if k not in ("name", "pixel_range")}
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise ValueError(f"unknown {module_class.__name__} config fields: {', '.join(unknown)}")
    return kwargs


def apply_unit_range(module: nn.Module, variables, x, pixel_range: float, **extra_images):
    """Runs `module` on images in [0, 1] and returns its output in [0, 1] (not clamped).

    x: (B, h, w, C) in [0, 1]; extra_images: further (B, ., ., C) images in [0, 1].
    """
    scaled = {name: image * pixel_range for name, image in extra_images.items()}
    return module.apply(variables, x * pixel_range, **scaled) / pixel_range
