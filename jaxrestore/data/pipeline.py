"""The host input pipeline: `TrainData`, infinite, deterministic, sharded training batches.

Determinism: example i of the global batch at step t is drawn from
`np.random.default_rng([seed, t, i])` alone, so the batch of step t does not depend on where
iteration started (resume at t gives exactly step t of an uninterrupted run), on the number of
workers, or on how the global batch is split over hosts: process p of n gets the global
examples p * b ... (p + 1) * b - 1, b = batch_size // n.

Parallelism: examples are built by a thread pool of `config.data.num_workers` threads (Pillow's
codecs and NumPy's array code release the GIL); up to `config.data.prefetch` batches are in
flight ahead of the consumer. `num_workers = 0` builds batches synchronously in the caller.
"""
import collections
import concurrent.futures
import logging
from typing import Dict, Iterator, List

import numpy as np

from jaxrestore.data import examples, sources
from jaxrestore.errors import DataSourceError

Batch = Dict[str, np.ndarray]


class TrainData:
    """Training batches of `task` (a `jaxrestore.tasks` task) for `config` as seen by host
    `process_index` of `process_count`.

    `batches(start_step)` yields dicts of float32 arrays: 'input' (b, h, w, C) and 'target'
    (b, H, W, C), where b = config.data.batch_size // process_count. Images are decoded (and,
    for SR, downscaled) once, here: a DataSourceError (missing folder, no usable image) comes
    before any model setup. The config is assumed checked (`jaxrestore.config.check_config`).
    Use as a context manager or call `close()` to stop the worker threads.
    """

    def __init__(self, config, task, process_index: int = 0, process_count: int = 1):
        if config.data.batch_size % process_count:
            raise DataSourceError(f"data.batch_size {config.data.batch_size} is not divisible "
                                  f"by the {process_count} processes")
        if not 0 <= process_index < process_count:
            raise ValueError(f"process_index {process_index} not in [0, {process_count})")
        self.config, self.task = config, task
        self.local_batch_size = config.data.batch_size // process_count
        self.first_example = process_index * self.local_batch_size
        scale, patch = task.scale, config.data.patch_size
        samples = examples.prepare(
            sources.training_samples(config.data, task.channels, scale), scale)
        self.samples = [s for s in samples if examples.fits(s, scale, patch)]
        small = [s for s in samples if not examples.fits(s, scale, patch)]
        if not self.samples:
            shorter = max((min(s.image.shape[:2]) for s in small), default=0)
            raise DataSourceError(
                f"no training image is at least data.patch_size = {config.data.patch_size} "
                f"pixels on each side (the {len(small)} images' shorter sides are at most "
                f"{shorter} pixels)")
        if small:  # one line for all of them
            logging.warning("skipping %d of %d training images smaller than data.patch_size %d "
                            "(e.g. %s %s)", len(small), len(samples), config.data.patch_size,
                            small[0].name, small[0].image.shape[:2])
        self.probabilities = examples.crop_probabilities(self.samples, scale, patch)
        self._pool = None
        if config.data.num_workers > 0:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                config.data.num_workers, thread_name_prefix="jaxrestore-data")

    def example(self, step: int, index: int) -> Dict[str, np.ndarray]:
        """Global example `index` of the batch at `step` (HWC float32 arrays)."""
        rng = np.random.default_rng([self.config.train.seed, step, index])
        return examples.training_example(self.samples, self.task, self.config.data.patch_size,
                                         self.config.data.channel_permutation, rng,
                                         self.probabilities)

    def batch(self, step: int) -> Batch:
        """This host's share of the global batch at `step`, built in the calling thread."""
        return _stack([self.example(step, i) for i in self._indices()])

    def _indices(self) -> range:
        return range(self.first_example, self.first_example + self.local_batch_size)

    def batches(self, start_step: int = 0) -> Iterator[Batch]:
        """Infinite iterator over the batches of steps start_step, start_step + 1, ..."""
        if self._pool is None:
            step = start_step
            while True:
                yield self.batch(step)
                step += 1
        pending = collections.deque()
        next_step = start_step
        try:
            while True:
                while len(pending) < max(1, self.config.data.prefetch):
                    pending.append([self._pool.submit(self.example, next_step, i)
                                    for i in self._indices()])
                    next_step += 1
                yield _stack([future.result() for future in pending.popleft()])
        finally:
            for futures in pending:
                for future in futures:
                    future.cancel()

    def close(self) -> None:
        """Stops the worker threads (pending examples are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "TrainData":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _stack(examples: List[Dict[str, np.ndarray]]) -> Batch:
    return {key: np.stack([e[key] for e in examples]) for key in examples[0]}
