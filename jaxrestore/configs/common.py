"""Defaults shared by every config: task, data, training, evaluation.

A config file under configs/ defines `get_config()` (or, for a family file, `get_config(arg)`)
returning an `ml_collections.ConfigDict` with four sections; model configs start from
`base_config()` and fill in `model` and `task`:

- `model`: `name` (registry key, see jaxrestore.models), `pixel_range`, model fields: every
  field of the model's class at the class's default (`jaxrestore.models.model_config`), with
  the config setting only what differs. Every model spells its width `n_feats`, and a graph
  model its patch side `patch` and its neighbours per node `top_k` (checkpoints stored with
  the old `features`, `patch_size`, `k` read as these: jaxrestore.models.RENAMED).
- `task`: `name` ('sr' | 'denoise' | 'jpeg' | 'demosaic'), `channels` (1 grey, 3 colour),
  `scale` (sr), `sigma` (denoise: a number, or [low, high] for a blind model),
  `quality` (jpeg: a number or [low, high]). A field keeps its type on the command line: a
  fixed-level config takes `--config.task.sigma=15`, a range needs a config that holds one
  (e.g. magn_denoise_gray_blind, then `--config.task.sigma="(5,50)"`). The task
  must agree with the model (`jaxrestore.config.check_config` says where they do not):
  channels are the model's input channels; the scale is the task's alone (the model section
  holds none, `jaxrestore.models.build_model` takes it from the task). Every task's batch is a dict
  of two float32 arrays in [0, 1], `input` (B, h, w, C) and `target` (B, H, W, C); for
  demosaicing, `input` is the RGGB mosaic in 3-channel masked form (zeros where a colour was
  not sampled), so input and target have the same shape. (IGNN computes its son image from
  `input` itself.)
- `data`: where training images come from and how they are cropped and batched.
  `data.patch_size` is the training crop on the target image, not the graph's `model.patch`.
- `train`: optimiser, schedule, loss, parallelism, logging and checkpoint cadence.
"""
import ml_collections

BLIND_SIGMA = (0.0, 55.0)  # DnCNN-B's blind training range
# DAGL's option.py: epochs of 1000 iterations and Adam step per task
DAGL_SCHEDULE = {"denoise": (1_300_000, 4e-4), "jpeg": (1_600_000, 4e-4),
                 "demosaic": (1_500_000, 2e-4)}


def base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()

    config.model = ml_collections.ConfigDict()
    config.model.name = ""
    config.model.pixel_range = 1.0

    config.task = ml_collections.ConfigDict()
    config.task.name = "sr"
    config.task.channels = 3
    config.task.scale = 2
    config.task.sigma = 25.0
    config.task.quality = 10

    config.data = ml_collections.ConfigDict()
    config.data.source = "skimage"  # 'skimage' (embedded photos) | 'folder' | 'tfds_div2k'
    config.data.train_path = ""     # folder(s) of training images, comma separated
    config.data.val_path = ""       # folder of validation images ('' = held-out embedded photos)
    config.data.tfds_data_dir = ""
    config.data.patch_size = 96     # crop on the target (HR / clean) image; not model.patch
    config.data.batch_size = 16     # global batch, split over devices
    config.data.num_workers = 2
    config.data.prefetch = 4
    config.data.channel_permutation = False  # IGNN's random RGB permutation

    config.train = ml_collections.ConfigDict()
    config.train.seed = 0
    config.train.steps = 1000
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-4
    config.train.b1 = 0.9                   # Adam betas and eps (IGNN: 0.9, 0.999)
    config.train.b2 = 0.999
    config.train.eps = 1e-8
    config.train.schedule = "step"          # 'step' (halve at milestones) | 'cosine_restarts' | 'constant'
    # IGNN: MultiStepLR at epochs 16/32/48/64 x 10k iterations, stepped at each epoch's start,
    # so the halvings land on these iterations (see jaxrestore/train/optim.py)
    config.train.milestones = (150_000, 310_000, 470_000, 630_000)
    config.train.gamma = 0.5
    config.train.restart_period = 250_000
    config.train.min_learning_rate = 0.0    # cosine_restarts floor
    # Linear warm-up to learning_rate over the first warmup_steps steps, after which the
    # schedule starts counting (IGNN's author: warm-up + cosine restarts, sczhou/IGNN#17)
    config.train.warmup_steps = 0
    config.train.loss = "l1"                # 'l1' | 'mse' | 'charbonnier'
    config.train.grad_clip = 0.0            # global-norm clip; 0 disables
    config.train.parallel = "shard_map"     # 'shard_map' | 'pmap'
    config.train.log_every = 10
    config.train.eval_every = 500
    config.train.checkpoint_every = 500
    config.train.keep_checkpoints = 3

    return config


def set_task(config: ml_collections.ConfigDict, name: str, channels: int, sigma=None,
             quality=None) -> None:
    """Sets the task section (sigma / quality: a number or a (low, high) blind range)."""
    # Rebuilt rather than assigned field by field: a blind range replaces the float default,
    # which ConfigDict's type safety would refuse.
    fields = config.task.to_dict()
    fields.update(name=name, channels=channels)
    if sigma is not None:
        fields["sigma"] = sigma
    if quality is not None:
        fields["quality"] = quality
    config.task = ml_collections.ConfigDict(fields)


def dagl_training(config: ml_collections.ConfigDict, tiny: bool) -> None:
    """The same-size tasks' recipe: DAGL's (64×64 crops, batch 32, Adam halved every 200k
    steps, MSE), or the tiny models' (minutes on a CPU, docs/magn.md)."""
    if tiny:
        config.data.patch_size = 48
        config.data.batch_size = 8
        config.train.steps = 3000
        config.train.learning_rate = 1e-3
        config.train.schedule = "constant"
        config.train.loss = "l1"
        config.train.eval_every = 500
        config.train.checkpoint_every = 500
    else:
        config.data.patch_size = 64
        config.data.batch_size = 32
        config.train.steps, config.train.learning_rate = DAGL_SCHEDULE[config.task.name]
        config.train.milestones = tuple(range(200_000, config.train.steps, 200_000))
        config.train.loss = "mse"


def same_size_task(config: ml_collections.ConfigDict, arg: str) -> None:
    """Sets the task named by a family file's argument: denoise_{gray,color}_{s15,s25,s50,
    blind}, jpeg_q{10,20,30,40} (grey) or demosaic (see SAME_SIZE_TASKS)."""
    if arg not in SAME_SIZE_TASKS:
        raise ValueError(f"unknown task {arg!r}; known: {', '.join(SAME_SIZE_TASKS)}")
    set_task(config, **SAME_SIZE_TASKS[arg])


SAME_SIZE_TASKS = {
    **{f"denoise_{space}_{level}": dict(name="denoise", channels=channels, sigma=sigma)
       for space, channels in (("gray", 1), ("color", 3))
       for level, sigma in (("s15", 15.0), ("s25", 25.0), ("s50", 50.0), ("blind", BLIND_SIGMA))},
    **{f"jpeg_q{q}": dict(name="jpeg", channels=1, quality=q) for q in (10, 20, 30, 40)},
    "demosaic": dict(name="demosaic", channels=3),
}
