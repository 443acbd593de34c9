"""IGNN (Zhou et al., NeurIPS 2020): cross-scale internal graph neural network for SR.

The published network (sczhou/IGNN `models/IGNN.py`, `models/submodules.py`), layer for layer,
in NHWC Flax linen, so converted PyTorch checkpoints reproduce the original outputs:

    x  = sub_mean(lr)                          frozen mean shift (DIV2K mean × 255)
    x0 = head(x);  x1 = body1(x0)              n/2 residual blocks
    graph: embed(lr), embed(son) → windowed kNN of 3×3 patches → idx, edge features (no grad)
    x1_lr, x1_hr = gcn(x1, idx, edges)         cross-scale aggregation, weight nets, softmax
    x1 = fuse_b([x1, x1_lr]);  x2 = body2(x1) + x0
    x  = fuse_up([upsample(x2), x1_hr]);  x = tail(x);  out = add_mean(x)

The graph works at `graph_scale` (2 for ×4, where the tail adds a ×2 upsampler, else the scale).
The son image is the LR image cropped to a multiple of graph_scale and downscaled by it with
MATLAB bicubic (the original's data loader); the model computes it (float32) when it is not
passed. The neighbour search is an argument of the call (default the exact `windowed_knn`): a
researcher can swap it (experiments/graph_probe.py replaces it by shuffled, random, self and
oracle neighbours) without touching the network's maths. The embedding is frozen VGG19 conv1_2 (see jaxrestore.models.vgg) or, with
embedding='pixels', the image itself scaled to [0, 1] (a weight-free alternative).
Any LR size works as in the original (patch grids are padded, HR features folded and cropped);
the son patch grid must hold at least top_k patches.

`use_graph=False` drops the graph, fuse_b and fuse_up: the plain EDSR trunk with the same layers
(a baseline). Frozen variables (mean shifts, VGG embedding) live in `constants`, not `params`.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxrestore.errors import ConfigError
from jaxrestore.models import base
from jaxrestore.models.layers import ConvWeights, ResBlock, Upsampler, conv, mean_shift
from jaxrestore.models.vgg import VGGEmbedding
from jaxrestore.ops.aggregate import edge_features
from jaxrestore.ops.conv import resolve_conv_algorithm
from jaxrestore.ops.imresize import imresize
from jaxrestore.ops.knn import windowed_knn
from jaxrestore.ops.neighbour_loop import neighbour_sums
from jaxrestore.ops.patches import extract_patches, patch_grid
from jaxrestore.ops.pixel_shuffle import pixel_unshuffle, repeat_pixels

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
EMBEDDINGS = ("vgg", "pixels")


def graph_scale_for(scale: int) -> int:
    """The scale the graph works at: 2 for ×4 (as the original), else the SR scale."""
    return 2 if scale == 4 else scale


def son_image(lr: jax.Array, graph_scale: int, pixel_range: float = 255.0) -> jax.Array:
    """IGNN's son image: lr (B,h,w,C) in [0, pixel_range] → (B,h//s,w//s,C), s = graph_scale.

    The original data loader's rule: crop to a multiple of s, MATLAB bicubic by 1/s of
    lr / pixel_range, × pixel_range, clamped to [0, pixel_range], not rounded.
    """
    _, h, w, _ = lr.shape
    cropped = lr[:, : h - h % graph_scale, : w - w % graph_scale]
    small = imresize(cropped / pixel_range, output_shape=(h // graph_scale, w // graph_scale))
    return jnp.clip(small * pixel_range, 0.0, pixel_range)


def model_config(scale: int | None = None, **fields) -> ml_collections.ConfigDict:
    """The `model` section of an IGNN config: the paper's network (`IGNN`'s defaults) with
    `fields` applied (an unknown field is a ConfigError). A run config's scale is its task's;
    `scale` is stored only for a network described apart from a task (converted weights)."""
    config = base.model_config(IGNN, "ignn", **fields)
    if scale is not None:
        config.scale = scale
    return config


def from_config(model_config) -> "IGNN":
    """Builds `IGNN` from a `model` config section (see `model_config`)."""
    return IGNN(**base.module_kwargs(IGNN, model_config))


def display_name(model_config) -> str:
    """'ignn', or 'edsr' without the graph (`use_graph=False`: the plain EDSR trunk)."""
    return "ignn" if model_config.get("use_graph", True) else "edsr"


def signature(model_config) -> base.Signature:
    """RGB in, RGB out, `scale` times larger; SR only; the smallest LR side whose son image
    holds top_k patches."""
    scale, gs = model_config.scale, graph_scale_for(model_config.scale)
    if scale not in (2, 3, 4):
        raise ConfigError(f"IGNN upscales x2, x3 or x4, not x{scale} (the task's scale)")
    patch, stride = model_config.get("patch", 3), model_config.get("stride", 2)
    side = patch
    while True:
        rows, cols = patch_grid(side, side, patch, stride)
        if rows * cols >= model_config.get("top_k", 5):
            break
        side += 1
    return base.Signature(3, 3, scale, min_size=side * gs if
                            model_config.get("use_graph", True) else 1)


class WeightNet(nn.Module):
    """1×1 edge-weight net: conv(E→64) → ResBlock(64, 1×1) → conv(64→1). (..., E) → (..., 1).

    Applied to (B, H, W, k, E) edge features (1×1 convs act on the channel axis only).
    """
    res_scale: float = 0.1
    hidden: int = 64

    @nn.compact
    def __call__(self, x):
        x = conv(self.hidden, 1, name="conv_in")(x)
        x = ResBlock(self.hidden, 1, self.res_scale, name="res")(x)
        return conv(1, 1, name="conv_out")(x)


class GCNBlock(nn.Module):
    """Graph aggregation (the original `GCNBlock`).

    y (B,H,W,C) LR features; idx (B,m1,m2,k) son-patch neighbours of each LR patch (k: IGNN's
    top_k);
    edges (B,H,W,k,E) LR edge features per neighbour → (lr (B,H,W,C), hr (B,H*s,W*s,C)).
    Each neighbour's HR aggregate goes through a shared 5×5 stride-s conv and two 3×3 convs
    back to LR (`jaxrestore.ops.neighbour_loop`); the LR and HR weight nets score the k
    neighbours per pixel, softmax over k, and the weighted sums are returned. The original's HR
    edge features are the LR ones with each pixel repeated s×s (see `edge_features`), so its
    average pooling gives the LR ones back and its pointwise HR weight net equals the net on
    the LR features, repeated: computed so.
    """
    scale: int
    patch: int = 3
    stride: int = 2
    res_scale: float = 0.1
    conv_algorithm: str = "direct"

    @nn.compact
    def __call__(self, y, idx, edges):
        c, s = y.shape[-1], self.scale
        # Softmax over the k neighbours (B,H,W,k,1), then neighbour-major for the loop.
        scores = lambda name: jax.nn.softmax(  # noqa: E731
            WeightNet(self.res_scale, name=name)(edges), -2)
        # (float32 softmax; the weighted sums in the features' dtype)
        weight_lr = jnp.moveaxis(scores("weightnet_lr"), -2, 0).astype(y.dtype)  # (k,B,H,W,1)
        weight_hr = jnp.moveaxis(repeat_pixels(scores("weightnet_hr"), s), -2, 0).astype(y.dtype)

        down = tuple(tuple(ConvWeights(c, size, c, dtype=y.dtype, name=f"knn_down{n}")())
                     for n, size in enumerate((5, 3, 3)))
        return neighbour_sums(y, pixel_unshuffle(y, s), idx, weight_lr, weight_hr, down, s,
                              self.patch, self.stride, self.conv_algorithm)


class IGNN(nn.Module):
    """IGNN super-resolution network.

    Attributes:
      scale: SR factor (2, 3 or 4). n_resblocks, n_feats: trunk depth and width.
      top_k, window, patch, stride: graph settings (neighbours, search window in son patches,
        patch size and stride on the LR grid). res_scale: residual scaling (0.1).
      embedding: 'vgg' (frozen VGG19 conv1_2, the original) or 'pixels' (the normalised RGB).
      use_graph: False gives the plain EDSR trunk (no graph, fuse_b, fuse_up).
      pixel_range: value of white at input and output (255, as the original).
      conv_algorithm: how the convolutions run, see `jaxrestore.ops.conv.conv2d`: 'direct',
        'winograd', 'winograd_wide' (Winograd for ≥ 64 channels) or 'auto', which is resolved
        once when the module is built, for this process's default backend ('winograd_wide' on
        CPU, else 'direct'; `resolve_conv_algorithm`), and kept in this field. Only float32
        rounding differs between them.
      dtype: computation dtype of the trunk, the GCN block's aggregates and convolutions and the
        fusions, 'float32', 'bfloat16' or 'float64' (needs JAX_ENABLE_X64=1). Parameters stay
        float32, and these stay float32 (all of them float64 in a float64 model): the son image,
        the VGG embedding, kNN distances and ranking, edge features and weight nets, the softmax
        over neighbours, AdaIN statistics, the final output.
    Call: lr (B,h,w,3) in [0, pixel_range], optional son (B,h//gs,w//gs,3) in the same range,
      optional neighbour_search (see `graph`; default `windowed_knn`)
      → (B,h*scale,w*scale,3) float32 (float64 for float64), not clamped.
    """
    scale: int = 2
    n_resblocks: int = 32
    n_feats: int = 256
    top_k: int = 5
    window: int = 30
    patch: int = 3
    stride: int = 2
    res_scale: float = 0.1
    embedding: str = "vgg"
    use_graph: bool = True
    pixel_range: float = 255.0
    conv_algorithm: str = "auto"
    dtype: str = "float32"

    def __post_init__(self):
        # 'auto' becomes a concrete algorithm here, once, not at every trace
        object.__setattr__(self, "conv_algorithm", resolve_conv_algorithm(self.conv_algorithm))
        super().__post_init__()

    @property
    def graph_scale(self) -> int:
        return graph_scale_for(self.scale)

    def graph(self, lr, son, neighbour_search=windowed_knn):
        """Neighbour indices (B,m1,m2,k) and LR edge features (B,h,w,k,E), no gradients.

        neighbour_search(query (B,m1,m2,D), database (B,n1,n2,D), k, window, graph_scale) →
        (dist (unused here, may be None), idx (B,m1,m2,k) int32 row-major son-grid indices), as
        `windowed_knn` returns.
        """
        if self.embedding == "vgg":
            embed = VGGEmbedding(self.pixel_range, name="embedding")
        elif self.embedding == "pixels":
            embed = lambda x: x / self.pixel_range  # noqa: E731
        else:
            raise ValueError(f"unknown embedding {self.embedding!r}; known: {EMBEDDINGS}")
        lr_emb = jax.lax.stop_gradient(embed(lr))
        son_emb = jax.lax.stop_gradient(embed(son))

        def patch_vectors(x):                   # b h w e → b m1 m2 (p*p*e)
            p = extract_patches(x, self.patch, self.stride)
            return p.reshape(p.shape[:3] + (-1,))

        _, idx = neighbour_search(patch_vectors(lr_emb), patch_vectors(son_emb), self.top_k,
                                  self.window, self.graph_scale)
        idx = jax.lax.stop_gradient(idx)
        edges = edge_features(lr_emb, son_emb, idx, 1, self.patch, self.stride)
        return idx, jax.lax.stop_gradient(edges.reshape(edges.shape[:3] + (self.top_k, -1)))

    def check_sizes(self, lr, son):
        """Raises ValueError when son does not fit lr or the son patch grid has < top_k
        patches."""
        b, h, w, _ = lr.shape
        gs = self.graph_scale
        want = (b, h // gs, w // gs, lr.shape[-1])
        if son.shape != want:
            raise ValueError(f"son image must have shape {want} for LR {lr.shape}, got "
                             f"{son.shape}")
        n1, n2 = patch_grid(h // gs, w // gs, self.patch, self.stride)
        if h // gs < self.patch or w // gs < self.patch or n1 * n2 < self.top_k:
            raise ValueError(f"LR image {h}x{w} is too small for IGNN: the son image "
                             f"{h // gs}x{w // gs} must hold at least top_k={self.top_k} "
                             f"{self.patch}x{self.patch} patches")

    @nn.compact
    def __call__(self, lr, son=None, neighbour_search=windowed_knn):
        if lr.ndim != 4 or lr.shape[-1] != 3:
            raise ValueError(f"IGNN takes RGB images (B, h, w, 3), got shape {lr.shape} (repeat a "
                             "grey image into 3 channels first, as jaxrestore.Restorer does)")
        n, s, pr = self.n_feats, self.scale, self.pixel_range
        wide = base.wide_dtype(self.dtype)
        lr = lr.astype(wide)
        if self.use_graph:
            if son is None:
                son = son_image(lr, self.graph_scale, pr)
            son = son.astype(wide)
            self.check_sizes(lr, son)
            idx, edges = self.graph(lr, son, neighbour_search)

        x = mean_shift(DIV2K_MEAN, value_range=pr, sign=-1.0, name="sub_mean")(lr)
        x = x.astype(jnp.dtype(self.dtype))
        algorithm = self.conv_algorithm
        x0 = conv(n, name="head", algorithm=algorithm)(x)
        n_pre = self.n_resblocks // 2
        x1 = x0
        for i in range(n_pre):
            x1 = ResBlock(n, 3, self.res_scale, algorithm=algorithm, name=f"body1_{i}")(x1)
        if self.use_graph:
            x1_lr, x1_hr = GCNBlock(
                scale=self.graph_scale, patch=self.patch, stride=self.stride,
                res_scale=self.res_scale, conv_algorithm=algorithm, name="gcn")(x1, idx, edges)
            x1 = jnp.concatenate([x1, x1_lr], -1)
            x1 = nn.relu(conv(n, name="fuse_b0", algorithm=algorithm)(x1))
            x1 = conv(n, name="fuse_b1", algorithm=algorithm)(x1)
        x2 = x1
        for i in range(self.n_resblocks - n_pre):
            x2 = ResBlock(n, 3, self.res_scale, algorithm=algorithm, name=f"body2_{i}")(x2)
        x2 = conv(n, name="body2_conv", algorithm=algorithm)(x2) + x0

        x = Upsampler(n, self.graph_scale, algorithm=algorithm, name="upsample")(x2)
        if self.use_graph:
            x = jnp.concatenate([x, x1_hr], -1)
            x = nn.relu(conv(n, name="fuse_up0", algorithm=algorithm)(x))
            x = nn.relu(conv(n, name="fuse_up1", algorithm=algorithm)(x))
        if s != self.graph_scale:
            x = Upsampler(n, s // self.graph_scale, algorithm=algorithm, name="tail_up")(x)
        x = conv(3, name="tail", algorithm=algorithm)(x).astype(wide)
        return mean_shift(DIV2K_MEAN, value_range=pr, sign=1.0, name="add_mean")(x)


MODULE = IGNN
