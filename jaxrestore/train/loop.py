"""`train_and_evaluate(config, workdir)`: the whole training run, resumable by default.

WORKDIR/checkpoints    orbax steps (state + config JSON): last `train.keep_checkpoints` and the
                       best by validation PSNR; a restart resumes from the newest readable one
WORKDIR/metrics.jsonl  one JSON line per logged step ('train/loss', 'val/psnr', ...)
WORKDIR/tensorboard    the same scalars as TensorBoard event files
"""
import contextlib
import math
import pathlib
import time

import jax
import ml_collections
import numpy as np

from jaxrestore.checkpoints import BEST_METRIC, TrainCheckpoints, merge_variables
from jaxrestore.data.pipeline import TrainData, validation_images
from jaxrestore.models import build_model
from jaxrestore.train.losses import get_loss
from jaxrestore.train.optim import learning_rate_schedule, make_optimizer
from jaxrestore.train.parallel import make_driver
from jaxrestore.train.reporting import MetricWriter, Progress
from jaxrestore.train.state import create_train_state, state_from_dict, state_to_dict
from jaxrestore.train.step import make_train_step
from jaxrestore.train.validate import Validator


class LossNotFinite(RuntimeError):
    """Training stopped because the loss became NaN or infinite (message is one line)."""


def example_batch(config: ml_collections.ConfigDict) -> dict:
    """Zero model inputs of one training example's shapes (for initialisation), per the batch
    contract of configs/common.py."""
    task, channels = config.task, config.task.channels
    side = config.data.patch_size // task.scale if task.name == "sr" else config.data.patch_size
    batch = {"input": np.zeros((1, side, side, channels), np.float32)}
    if config.data.son_image:
        son = side // task.graph_scale
        batch["son"] = np.zeros((1, son, son, channels), np.float32)
    return batch


def _due(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir) -> dict:
    """Trains `config` in `workdir` (resuming from its newest checkpoint if any) and returns the
    final validation PSNR per image, plus 'mean' and the baseline's mean as 'baseline_mean'.

    Raises LossNotFinite if the loss becomes NaN/inf (the last checkpoint is kept) and
    jaxrestore.checkpoints.CheckpointError if the work directory cannot be resumed.
    """
    workdir = pathlib.Path(workdir)
    train, is_main = config.train, jax.process_index() == 0
    module = build_model(config.model)
    optimizer = make_optimizer(train)
    schedule = learning_rate_schedule(train)
    driver = make_driver(train.parallel, make_train_step(
        module, config.model.pixel_range, get_loss(train.loss), optimizer))
    template = create_train_state(module, optimizer, example_batch(config), train.seed)

    validator = Validator(module, config.model.pixel_range, validation_images(config),
                          config.task)
    with contextlib.ExitStack() as stack:
        checkpoints = stack.enter_context(TrainCheckpoints(
            workdir / "checkpoints", train.keep_checkpoints,
            log=print if is_main else lambda line: None))
        restored = checkpoints.restore_latest(state_to_dict(template), config)
        host_state = template if restored is None else state_from_dict(template, restored[1])
        start = int(host_state.step)
        writer = MetricWriter(workdir, resume_step=start, enabled=is_main)
        stack.callback(writer.close)
        progress = Progress(start, train.steps, enabled=is_main)
        stack.callback(progress.close)
        if restored is not None:
            progress.write(f"resumed from step {start} of {workdir / 'checkpoints'}")
        data = stack.enter_context(TrainData(config, jax.process_index(), jax.process_count()))
        batches = data.batches(start)
        state = driver.put_state(host_state)
        scores, last_logged = None, start
        for step in range(start + 1, train.steps + 1):  # `step` counts updates done
            waiting = time.perf_counter()
            batch = next(batches)
            progress.waited(time.perf_counter() - waiting)
            # the host floats in `metrics` block on every step: the NaN check needs them before
            # any later checkpoint, and it keeps fake-device runs from deadlocking
            state, metrics = driver.step(state, driver.put_batch(batch))
            if not math.isfinite(metrics["loss"]):
                checkpoints.wait_until_finished()
                raise LossNotFinite(f"loss is {metrics['loss']} at step {step}; stopped, the "
                                    f"last checkpoint in {workdir / 'checkpoints'} is kept")
            if _due(step, train.log_every, train.steps):
                lr = float(schedule(step - 1))
                share = progress.update(step - last_logged, metrics["loss"], lr)
                last_logged = step
                writer.write(step, {**metrics, "lr": lr, "data_wait": share})
            validate_now = _due(step, train.eval_every, train.steps)
            save_now = _due(step, train.checkpoint_every, train.steps)
            if validate_now or save_now:
                host_state = driver.get_state(state)
            if validate_now:
                scores = validator(merge_variables(host_state.params, host_state.frozen))
                mean = float(np.mean(list(scores.values())))
                writer.write(step, {"psnr": mean}, prefix="val")
                progress.write(f"step {step}: validation PSNR {mean:.2f} dB")
            if save_now:
                checkpoints.save(step, state_to_dict(host_state), config,
                                 metrics={BEST_METRIC: mean} if validate_now else None)
        checkpoints.wait_until_finished()
    if scores is None:  # resumed at the last step: nothing left to train
        scores = validator(merge_variables(host_state.params, host_state.frozen))
    if is_main:
        print(validator.table(scores))
    return {**scores, "mean": float(np.mean(list(scores.values()))),
            "baseline_mean": float(np.mean(list(validator.baseline_psnr.values())))}
