"""jaxrestore: graph-based image restoration (IGNN, MAGN) in JAX/Flax.

Layout: `jaxrestore.ops` (pure array functions), `jaxrestore.metrics`, `jaxrestore.data`
(degradations and input pipelines), `jaxrestore.models` (Flax linen modules),
`jaxrestore.tasks` (one object per restoration task), `jaxrestore.train` (optax loop, data
parallelism), `jaxrestore.checkpoints` (orbax checkpoints), `jaxrestore.inference`,
`jaxrestore.cli` (the commands).
"""
import importlib.metadata

try:
    __version__ = importlib.metadata.version("jaxrestore")  # pyproject.toml's, once installed
except importlib.metadata.PackageNotFoundError:  # a checkout on sys.path, not installed
    __version__ = "0+unknown"
