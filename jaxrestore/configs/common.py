"""Defaults shared by every config: task, data, training, evaluation.

A config file under configs/ defines `get_config()` returning an `ml_collections.ConfigDict`
with four sections; model configs start from `base_config()` and fill in `model` and `task`:

- `model`: `name` (registry key, see jaxrestore.models), `pixel_range`, model fields.
- `task`: `name` ('sr' | 'denoise' | 'jpeg' | 'demosaic'), `channels` (1 grey, 3 colour),
  `scale` (sr), `sigma` (denoise: a number, or [low, high] for a blind model),
  `quality` (jpeg: a number or [low, high]). A field keeps its type on the command line: a
  fixed-level config takes `--config.task.sigma=15`, a range needs a config that holds one
  (e.g. configs/magn_denoise_gray_blind.py, then `--config.task.sigma="(5,50)"`). The task
  must agree with the model (`jaxrestore.config.check_config` says where they do not): SR's
  scale is the model's, channels are the model's input channels. Every task's batch is a dict
  of two float32 arrays in [0, 1], `input` (B, h, w, C) and `target` (B, H, W, C); for
  demosaicing, `input` is the RGGB mosaic in 3-channel masked form (zeros where a colour was
  not sampled), so input and target have the same shape. (IGNN computes its son image from
  `input` itself.)
- `data`: where training images come from and how they are cropped and batched.
- `train`: optimiser, schedule, loss, parallelism, logging and checkpoint cadence.
"""
import ml_collections


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
    config.data.patch_size = 96     # crop size on the target (HR / clean) image
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
