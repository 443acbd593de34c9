"""Cross-scale aggregation and edge features against a loop-by-loop NumPy transcription of the
original IGNN (GraphAggregation.forward, adaptive_instance_normalization, GraphConstruct's
diff_patch), written in the original's NCHW layout with its im2col/col2im semantics."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.aggregate import cross_scale_aggregate, edge_features
from jaxrestore.ops.pixel_shuffle import pixel_unshuffle


def _pads(h, w, p, t):
    v, hz = -(h - p) % t, -(w - p) % t
    return int(np.floor(v / 2)), int(np.ceil(v / 2)), int(np.floor(hz / 2)), int(np.ceil(hz / 2))


def _im2col(x, p, t):
    """NCHW → (b, c, p, p, m1, m2) after zero padding (pyinn.im2col on the padded input)."""
    top, bottom, left, right = _pads(x.shape[2], x.shape[3], p, t)
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    m1, m2 = (xp.shape[2] - p) // t + 1, (xp.shape[3] - p) // t + 1
    out = np.zeros(x.shape[:2] + (p, p, m1, m2))
    for i in range(m1):
        for j in range(m2):
            out[:, :, :, :, i, j] = xp[:, :, i * t:i * t + p, j * t:j * t + p]
    return out, (top, bottom, left, right)


def _col2im(cols, t, pads):
    """(b, c, P, P, m1, m2) → overlap-add / counts, padding cropped (patch2im)."""
    b, c, pp, _, m1, m2 = cols.shape
    acc = np.zeros((b, c, (m1 - 1) * t + pp, (m2 - 1) * t + pp))
    cnt = np.zeros_like(acc)
    for i in range(m1):
        for j in range(m2):
            acc[:, :, i * t:i * t + pp, j * t:j * t + pp] += cols[:, :, :, :, i, j]
            cnt[:, :, i * t:i * t + pp, j * t:j * t + pp] += 1
    top, bottom, left, right = pads
    out = acc / cnt
    return out[:, :, top:out.shape[2] - bottom, left:out.shape[3] - right]


def _np_aggregate(y, yd, idx, s, p, t, adain):
    """y (b,C,H,W), yd (b,C*s*s,H/s,W/s), idx (b, m, k) → (b, k*C, H*s, W*s)."""
    b, c, h, w = y.shape
    k = idx.shape[2]
    yp, pads = _im2col(y, p, t)
    ydp, _ = _im2col(yd, p, t)
    m1, m2 = yp.shape[4:]
    n2 = ydp.shape[5]
    hr = np.zeros((b, k * c, p * s, p * s, m1, m2))
    for bi in range(b):
        for i in range(m1):
            for j in range(m2):
                for kk in range(k):
                    n = idx[bi, i * m2 + j, kk]
                    z = ydp[bi, :, :, :, n // n2, n % n2].reshape(c, s, s, p, p)
                    for ch in range(c):
                        zc = z[ch]
                        if adain:
                            center = yp[bi, ch, :, :, i, j]
                            zc = ((zc - zc.mean()) / np.sqrt(zc.var(ddof=1) + 1e-5)
                                  * np.sqrt(center.var(ddof=1) + 1e-5) + center.mean())
                        for a in range(p):
                            for d in range(p):
                                for si in range(s):
                                    for sj in range(s):
                                        hr[bi, kk * c + ch, a * s + si, d * s + sj, i, j] = \
                                            zc[si, sj, a, d]
    return _col2im(hr, t * s, [q * s for q in pads])


def _np_edges(ye, xe, idx, s, p, t):
    """ye (b,E,H,W), xe (b,E,Hd,Wd), idx (b, m, k) → (b, k*E, H*s, W*s)."""
    b, e = ye.shape[:2]
    k = idx.shape[2]
    yp, pads = _im2col(ye, p, t)
    xp, _ = _im2col(xe, p, t)
    m1, m2 = yp.shape[4:]
    n2 = xp.shape[5]
    hr = np.zeros((b, k * e, p * s, p * s, m1, m2))
    for bi in range(b):
        for i in range(m1):
            for j in range(m2):
                for kk in range(k):
                    n = idx[bi, i * m2 + j, kk]
                    for ch in range(e):
                        diff = np.abs(yp[bi, ch, :, :, i, j] - xp[bi, ch, :, :, n // n2, n % n2])
                        hr[bi, kk * e + ch, :, :, i, j] = diff.sum()
    return _col2im(hr, t * s, [q * s for q in pads])


def _nchw(x):
    return np.asarray(x).transpose(0, 3, 1, 2)


CASES = [  # (H, W, C, scale, patch, stride, k)
    (10, 12, 2, 2, 3, 2, 3),
    (9, 12, 2, 3, 3, 2, 2),
    (8, 7, 1, 2, 2, 1, 2),
]


@pytest.mark.parametrize("adain", [True, False])
@pytest.mark.parametrize("h,w,c,s,p,t,k", CASES)
def test_aggregate_matches_original_transcription(h, w, c, s, p, t, k, adain):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2, h, w, c)).astype(np.float32)
    # An independent y_down (not the unshuffle of y) so swapped channels cannot cancel out.
    y_down = rng.normal(size=(2, h // s, w // s, c * s * s)).astype(np.float32)
    m = _im2col(_nchw(y), p, t)[0].shape[4:]
    n = _im2col(_nchw(y_down), p, t)[0].shape[4:]
    idx = rng.integers(0, n[0] * n[1], size=(2, m[0], m[1], k)).astype(np.int32)
    got, batched = (cross_scale_aggregate(jnp.asarray(y), jnp.asarray(y_down), jnp.asarray(idx),
                                          s, p, t, adain=adain, neighbours_in_batch=in_batch)
                    for in_batch in (False, True))
    want = _np_aggregate(_nchw(y), _nchw(y_down), idx.reshape(2, -1, k), s, p, t, adain)
    assert got.shape == (2, h * s, w * s, k * c)
    np.testing.assert_allclose(_nchw(got), want, rtol=1e-4, atol=1e-4)
    # Neighbours in the batch: image b*k + j is neighbour j's map (channels j*C .. of the above).
    assert batched.shape == (2 * k, h * s, w * s, c)
    np.testing.assert_allclose(_nchw(batched), want.reshape(2 * k, c, h * s, w * s), rtol=1e-4,
                               atol=1e-4)


def test_identity_neighbours_rebuild_the_hr_image():
    # If y_down is the unshuffled HR image on the query's own grid and every query picks the
    # patch at its own place, each HR pixel only ever receives its own value: output = HR.
    rng = np.random.default_rng(1)
    hr = rng.normal(size=(1, 12, 16, 2)).astype(np.float32)
    y_down = pixel_unshuffle(jnp.asarray(hr), 2)  # (1, 6, 8, 8): patch grid 3×4 (p=3, t=2)
    y = jnp.zeros((1, 6, 8, 2))
    idx = jnp.arange(12, dtype=jnp.int32).reshape(1, 3, 4, 1)
    out = cross_scale_aggregate(y, y_down, idx, 2, 3, 2, adain=False)
    np.testing.assert_allclose(out, hr, atol=1e-6)


@pytest.mark.parametrize("h,w,c,s,p,t,k", CASES)
def test_edge_features_match_original_transcription(h, w, c, s, p, t, k):
    rng = np.random.default_rng(2)
    e = c + 1
    ye = rng.normal(size=(1, h, w, e)).astype(np.float32)
    xe = rng.normal(size=(1, h // s, w // s, e)).astype(np.float32)
    m = _im2col(_nchw(ye), p, t)[0].shape[4:]
    n = _im2col(_nchw(xe), p, t)[0].shape[4:]
    idx = rng.integers(0, n[0] * n[1], size=(1, m[0], m[1], k)).astype(np.int32)
    got = edge_features(jnp.asarray(ye), jnp.asarray(xe), jnp.asarray(idx), s, p, t)
    want = _np_edges(_nchw(ye), _nchw(xe), idx.reshape(1, -1, k), s, p, t)
    assert got.shape == (1, h * s, w * s, k * e)
    np.testing.assert_allclose(_nchw(got), want, rtol=1e-5, atol=1e-5)


def test_wrong_shapes_are_clear_errors():
    y = jnp.zeros((1, 8, 8, 2))
    with pytest.raises(ValueError, match="channels"):
        cross_scale_aggregate(y, jnp.zeros((1, 4, 4, 4)), jnp.zeros((1, 4, 4, 1), jnp.int32),
                              2, 3, 2)
    with pytest.raises(ValueError, match="patch grid"):
        cross_scale_aggregate(y, jnp.zeros((1, 4, 4, 8)), jnp.zeros((1, 3, 4, 1), jnp.int32),
                              2, 3, 2)


def test_aggregate_gradient_and_vmap():
    rng = np.random.default_rng(3)
    y = jnp.asarray(rng.normal(size=(2, 8, 8, 2)), jnp.float32)
    idx = jnp.asarray(rng.integers(0, 4, size=(2, 4, 4, 2)), jnp.int32)
    weights = jnp.asarray(rng.normal(size=(2, 16, 16, 4)), jnp.float32)

    def loss(v):
        return jnp.sum(cross_scale_aggregate(v, pixel_unshuffle(v, 2), idx, 2, 3, 2) * weights)

    grad = jax.jit(jax.grad(loss))(y)
    direction = jnp.asarray(rng.normal(size=y.shape), jnp.float32)
    eps = 1e-2
    loss = jax.jit(loss)
    numeric = (loss(y + eps * direction) - loss(y - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(jnp.sum(grad * direction), numeric, rtol=2e-2)

    per_image = jax.jit(jax.vmap(lambda a, i: cross_scale_aggregate(
        a[None], pixel_unshuffle(a[None], 2), i[None], 2, 3, 2)))
    batched = cross_scale_aggregate(y, pixel_unshuffle(y, 2), idx, 2, 3, 2)
    np.testing.assert_allclose(per_image(y, idx)[:, 0], batched, rtol=1e-6, atol=1e-6)
