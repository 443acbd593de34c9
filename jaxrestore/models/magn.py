"""MAGN: multi-level attention-guided graph network (Jiang, Cui, Xu, Yang, arXiv 2502.19181).

Only the paper's abstract is public; this is our reading of it on DAGL's skeleton (Mou et al.,
ICCV 2021). docs/magn.md marks every choice "from the abstract" or "ours", with the reason.

    x ─ conv3x3 ─ n_resblocks//2 ResBlocks ─ [MultiLevelGraphBlock ─ n_between ResBlocks] ×
        (n_graph_blocks, no ResBlocks after the last) ─ n_resblocks//2 ResBlocks ─ conv3x3 ─
        conv3x3 (→ out_channels) ─ + x   (demosaicing: + bilinear(x) instead, `residual_base`)

A MultiLevelGraphBlock runs two graphs on the same features and fuses them:
- `ElementGraph`: nodes are feature positions; every position receives a multi-head attention
  message from an image-wide summary of all positions ('linear': kernelised attention, time
  and memory linear in pixels) or attends to a pooled grid ('pooled', the first design, time
  quadratic in pixels; kept for ablation and for checkpoints trained with it).
- `BlockGraph`: nodes are patch×patch feature patches on a stride grid; multi-head attention
  scores the window×window neighbouring patches, each head keeps its top_k, aggregates their
  value patches (graph convolution) and folds them back.
- `CrossLevelFusion`: 'cross_gate' (each level gates the other) or 'concat' (ablation), then a
  1×1 conv; the block adds its input back.

Every class here takes its settings (the graph ints above all) by keyword only: a positional call,
which a reordering of fields would silently mis-wire, is a TypeError.
"""
import flax.linen as nn
import jax.numpy as jnp

from jaxrestore.errors import ConfigError
from jaxrestore.models.base import Signature, module_kwargs, wide_dtype
from jaxrestore.models.layers import ResBlock, conv
from jaxrestore.ops.demosaic import bilinear_demosaic_masked
from jaxrestore.ops.graph_attention import (block_graph_aggregate, element_graph_attention,
                                            linear_graph_attention, window_candidates)
from jaxrestore.ops.patches import extract_patches, fold_patches, patch_padding

FUSIONS = ("cross_gate", "concat")
RESIDUAL_BASES = ("input", "bilinear")
ELEMENT_GRAPHS = ("linear", "pooled")


class ElementGraph(nn.Module, kw_only=True):
    """Element graph: every feature position receives a message from an image-wide summary.

    Attributes:
      heads: attention heads (features must be divisible by heads).
      variant: 'linear': kernelised attention of every position over every position, through
        the summary S = mean φ(k) vᵀ, z = mean φ(k) of the whole input
        (`linear_graph_attention`): time and memory linear in H·W.
        'pooled' (the first design, kept for ablation): softmax attention of every position
        over the pool×pool average-pooled grid (`element_graph_attention`): time
        O((H·W)² / pool²), memory linear (chunks).
      pool: 'pooled' only: the pooling factor (sizes that pool does not divide are edge-padded
        first; 1 = every position).
      chunk: 'pooled' only: query positions per attention chunk.
    (B, H, W, C) → (B, H, W, C) aggregated messages; docs/magn.md has the costs.
    """
    heads: int = 4
    variant: str = "linear"
    pool: int = 8
    chunk: int = 256
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x):
        b, h, w, c = x.shape
        dense = lambda features, name: nn.Dense(  # noqa: E731
            features, dtype=jnp.dtype(self.dtype), param_dtype=wide_dtype(self.dtype), name=name)
        if c % self.heads:
            raise ValueError(f"{c} features are not divisible by {self.heads} heads")
        if self.variant not in ELEMENT_GRAPHS:
            raise ValueError(f"unknown element graph {self.variant!r}; known: "
                             f"{', '.join(ELEMENT_GRAPHS)}")
        d = c // self.heads
        q = dense(c, "query")(x).reshape(b, h * w, self.heads, d)
        if self.variant == "pooled" and self.pool > 1:  # edge-pad to a multiple of pool,
            r = self.pool                                # then average pool×pool cells
            x = jnp.pad(x, ((0, 0), (0, -h % r), (0, -w % r), (0, 0)), mode="edge")
            x = x.reshape(b, x.shape[1] // r, r, x.shape[2] // r, r, c).mean(axis=(2, 4))
        kv = dense(2 * c, "key_value")(x).reshape(b, -1, 2, self.heads, d)
        if self.variant == "linear":
            out = linear_graph_attention(q, kv[:, :, 0], kv[:, :, 1])
        else:
            out = element_graph_attention(q, kv[:, :, 0], kv[:, :, 1], chunk=self.chunk)
        return dense(c, "out")(out.reshape(b, h, w, c))


class BlockGraph(nn.Module, kw_only=True):
    """Element-block graph: patches are nodes, each head aggregates its top_k window neighbours.

    Attributes:
      heads: attention heads; the C value channels are split evenly between them.
      patch, stride: node patches (patch×patch) and the grid step between them (stride ≤ patch).
      window: candidates are the window×window grid nodes around a node (clamped at borders).
      top_k: neighbours each head keeps (at most the number of candidates).
      embed: channels of the 1×1 matching embedding whose patches the heads project.
      chunk: nodes per chunk of the sparse attention.
    (B, H, W, C) → (B, H, W, C) aggregated messages; any H, W (zero-padded to the patch grid
    and cropped back by the fold).
    """
    heads: int = 4
    patch: int = 7
    stride: int = 4
    window: int = 9
    top_k: int = 16
    embed: int = 16
    chunk: int = 256
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x):
        b, h, w, c = x.shape
        if c % self.heads:
            raise ValueError(f"{c} features are not divisible by {self.heads} heads")
        p = self.patch
        emb = extract_patches(conv(self.embed, 1, name="embed")(x), p, self.stride)
        m1, m2 = emb.shape[1:3]
        nodes = emb.reshape(b, m1 * m2, p * p * self.embed)            # (B, M, E)
        d = max(1, nodes.shape[-1] // 4)                                 # DAGL's fc width E/4
        dense = lambda name: nn.Dense(  # noqa: E731
            self.heads * d, dtype=jnp.dtype(self.dtype), param_dtype=wide_dtype(self.dtype),
            name=name)
        q = dense("query")(nodes).reshape(b, m1 * m2, self.heads, d)
        k = dense("key")(nodes).reshape(b, m1 * m2, self.heads, d)
        # Value patches, each head owning C/heads channels: (B, M, heads, p*p*C/heads).
        val = extract_patches(conv(c, 3, name="value")(x), p, self.stride)
        val = val.reshape(b, m1 * m2, p, p, self.heads, c // self.heads)
        val = val.transpose(0, 1, 4, 2, 3, 5).reshape(b, m1 * m2, self.heads, -1)
        cand = window_candidates((m1, m2), self.window)                  # (M, K)
        cand = jnp.broadcast_to(cand, (b, *cand.shape))
        agg = block_graph_aggregate(q, k, val, cand, min(self.top_k, cand.shape[-1]),
                                    chunk=self.chunk)                    # (B, M, heads, P)
        agg = agg.reshape(b, m1, m2, self.heads, p, p, c // self.heads)
        agg = agg.transpose(0, 1, 2, 4, 5, 3, 6).reshape(b, m1, m2, p, p, c)
        out = fold_patches(agg, (h, w), self.stride, patch_padding(h, w, p, self.stride))
        return conv(c, 1, name="out")(out)


class CrossLevelFusion(nn.Module, kw_only=True):
    """Fuses element-graph (global) and element-block-graph (local) messages into C channels.

    'cross_gate': global ⊙ σ(1×1(local)) and local ⊙ σ(1×1(global)), concatenated, 1×1 conv.
    'concat': the two messages concatenated, 1×1 conv (ablation).
    (B, H, W, C) × 2 → (B, H, W, C).
    """
    mode: str = "cross_gate"

    @nn.compact
    def __call__(self, global_msg, local_msg):
        c = global_msg.shape[-1]
        if self.mode == "cross_gate":
            corrected = global_msg * nn.sigmoid(conv(c, 1, name="gate_from_local")(local_msg))
            refined = local_msg * nn.sigmoid(conv(c, 1, name="gate_from_global")(global_msg))
            global_msg, local_msg = corrected, refined
        elif self.mode != "concat":
            raise ValueError(f"unknown fusion {self.mode!r}; known: {', '.join(FUSIONS)}")
        return conv(c, 1, name="merge")(jnp.concatenate([global_msg, local_msg], axis=-1))


class MultiLevelGraphBlock(nn.Module, kw_only=True):
    """x + fusion(element graph(x), element-block graph(x)). (B, H, W, C) → (B, H, W, C)."""
    heads: int = 4
    element_graph: str = "linear"
    element_pool: int = 8
    patch: int = 7
    stride: int = 4
    window: int = 9
    top_k: int = 16
    embed: int = 16
    fusion: str = "cross_gate"
    chunk: int = 256
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x):
        global_msg = ElementGraph(heads=self.heads, variant=self.element_graph,
                                  pool=self.element_pool, chunk=self.chunk, dtype=self.dtype,
                                  name="element_graph")(x)
        local_msg = BlockGraph(heads=self.heads, patch=self.patch, stride=self.stride,
                               window=self.window, top_k=self.top_k, embed=self.embed,
                               chunk=self.chunk, dtype=self.dtype, name="block_graph")(x)
        return x + CrossLevelFusion(mode=self.fusion, name="fusion")(global_msg, local_msg)


class MAGN(nn.Module, kw_only=True):
    """MAGN restoration network with a global residual: base(x) + F(x).

    Attributes:
      in_channels, out_channels: image channels (1 grey, 3 colour / masked RGGB mosaic).
      n_feats: feature width. n_resblocks: ResBlocks around the graph stage (half before,
      half after). n_graph_blocks: multi-level graph blocks, separated by n_between ResBlocks.
      element_graph: `ElementGraph.variant`, 'linear' or 'pooled'. A config stored before
        this field existed was trained with 'pooled' and must say so (pretrained/README.md).
      heads, element_pool, patch, stride, window, top_k, embed, fusion, chunk: see
      `MultiLevelGraphBlock`, `ElementGraph`, `BlockGraph`.
      dtype: computation dtype, 'float32', 'bfloat16' or 'float64' (needs JAX_ENABLE_X64=1);
        parameters stay float32, attention scores, softmaxes, image-wide means and the output
        are float32 (all of them float64 in a float64 model).
      residual_base: what F(x) is added to: 'input' (x itself) or 'bilinear' (demosaicing:
        the bilinear estimate of the RGGB masked mosaic x, `bilinear_demosaic_masked`; with
        'input' the network must learn the whole interpolation of the 2/3 zeroed samples).
    x (B, H, W, in_channels) in [0, 1], any H, W → (B, H, W, out_channels) float32 (float64
    for float64).
    """
    in_channels: int = 1
    out_channels: int = 1
    n_feats: int = 64
    n_resblocks: int = 16
    n_graph_blocks: int = 3
    n_between: int = 4
    heads: int = 4
    element_graph: str = "linear"
    element_pool: int = 8
    patch: int = 7
    stride: int = 4
    window: int = 9
    top_k: int = 16
    embed: int = 16
    fusion: str = "cross_gate"
    chunk: int = 256
    dtype: str = "float32"
    residual_base: str = "input"

    @nn.compact
    def __call__(self, x):
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(f"MAGN expects (B, H, W, {self.in_channels}) input, got {x.shape}")
        if self.in_channels != self.out_channels:
            raise ValueError("MAGN's global residual needs in_channels == out_channels, got "
                             f"{self.in_channels} and {self.out_channels}")
        res = conv(self.n_feats, 3, name="head")(x.astype(jnp.dtype(self.dtype)))
        for i in range(self.n_resblocks // 2):
            res = ResBlock(self.n_feats, name=f"pre_{i}")(res)
        for g in range(self.n_graph_blocks):
            if g:
                for i in range(self.n_between):
                    res = ResBlock(self.n_feats, name=f"between_{g}_{i}")(res)
            res = MultiLevelGraphBlock(
                heads=self.heads, element_graph=self.element_graph,
                element_pool=self.element_pool, patch=self.patch, stride=self.stride,
                window=self.window, top_k=self.top_k, embed=self.embed, fusion=self.fusion,
                chunk=self.chunk, dtype=self.dtype, name=f"graph_{g}")(res)
        for i in range(self.n_resblocks - self.n_resblocks // 2):
            res = ResBlock(self.n_feats, name=f"post_{i}")(res)
        res = conv(self.n_feats, 3, name="body_end")(res)
        wide = wide_dtype(self.dtype)
        base = bilinear_demosaic_masked(x) if self.residual_base == "bilinear" else x
        return base.astype(wide) + conv(self.out_channels, 3, name="tail")(res).astype(wide)


def from_config(model_config) -> MAGN:
    """Builds MAGN from `config.model` (every field of `MAGN` may be set; `name` and
    `pixel_range` are the registry's)."""
    kwargs = module_kwargs(MAGN, model_config)
    if kwargs.get("fusion", "cross_gate") not in FUSIONS:
        raise ConfigError(f"unknown model.fusion {kwargs['fusion']!r}; known: {', '.join(FUSIONS)}")
    if kwargs.get("element_graph", "linear") not in ELEMENT_GRAPHS:
        raise ConfigError(f"unknown model.element_graph {kwargs['element_graph']!r}; known: "
                          f"{', '.join(ELEMENT_GRAPHS)}")
    if kwargs.get("residual_base", "input") not in RESIDUAL_BASES:
        raise ConfigError(f"unknown model.residual_base {kwargs['residual_base']!r}; known: "
                          f"{', '.join(RESIDUAL_BASES)}")
    return MAGN(**kwargs)


def signature(model_config) -> Signature:
    """Same-size restoration (denoising, JPEG, demosaicing), in_channels → out_channels."""
    return Signature(model_config.get("in_channels", 1), model_config.get("out_channels", 1), 1)


MODULE = MAGN
