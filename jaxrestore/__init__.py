"""jaxrestore: graph-based image restoration (IGNN, MAGN) in JAX/Flax.

Layout: `jaxrestore.ops` (pure array functions), `jaxrestore.metrics`, `jaxrestore.data`
(degradations and input pipelines), `jaxrestore.models` (Flax linen modules),
`jaxrestore.train` (optax loop, data parallelism, orbax checkpoints).
"""

__version__ = "0.1.0"
