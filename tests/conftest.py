"""Shared test fixtures.

`shared_dir` points at ../shared (the benchmark images and IGNN reference passes); tests that
need it skip cleanly when it is absent. Override its location with JAXRESTORE_SHARED.
"""
import os
import pathlib

import pytest

# The suite compiles many small programs once each and runs most of them once: XLA's backend
# optimisation and its CPU fusion emitters cost more compile time than they save in run time
# here (the suite's CPU time about halves with the first, and drops by a further fifth with the
# second) and change values only by float rounding. Set before any test imports jax;
# subprocesses inherit it.
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                    "--xla_backend_optimization_level=0",
                                    "--xla_cpu_use_fusion_emitters=false"]).strip()

REPO = pathlib.Path(__file__).resolve().parents[1]


def shared_path() -> pathlib.Path:
    """../shared or $JAXRESTORE_SHARED (may not exist; the fixtures below skip then)."""
    return pathlib.Path(os.environ.get("JAXRESTORE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    path = shared_path()
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def shared_data(shared_dir) -> pathlib.Path:
    path = shared_dir / "data"
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def ignn_reference(shared_dir) -> pathlib.Path:
    path = shared_dir / "ignn_reference"
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path
