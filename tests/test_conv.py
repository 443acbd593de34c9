"""Convolution dispatch (`conv2d`, `prepared_conv2d`) against XLA's own convolution."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrestore.ops.conv import conv2d, prepared_conv2d, resolve_conv_algorithm


def test_auto_is_resolved_for_the_platforms_given():
    """'auto' is decided by the platforms the caller names, not by the machine it runs on."""
    assert resolve_conv_algorithm("auto", ("cpu",)) == "winograd_wide"
    assert resolve_conv_algorithm("auto", ("cpu", "cuda")) == "direct"
    assert resolve_conv_algorithm("auto", ("tpu",)) == "direct"
    assert resolve_conv_algorithm("auto") == "winograd_wide"  # this process: CPU
    assert resolve_conv_algorithm("winograd", ("cuda",)) == "winograd"
    with pytest.raises(ValueError, match="unknown convolution algorithm"):
        resolve_conv_algorithm("fft", ("cpu",))
    with pytest.raises(ValueError, match="must be resolved first"):
        conv2d(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)), jnp.zeros(2), algorithm="auto")


def test_winograd_wide_is_winograd_for_wide_convolutions():
    """'winograd_wide' (CPU's 'auto') computes ≥ 64-channel 3×3 convolutions exactly as
    'winograd', narrower ones as 'direct'."""
    rng = np.random.default_rng(3)
    for channels, same_as in [(64, "winograd"), (32, "direct")]:
        x = jnp.asarray(rng.normal(size=(1, 8, 8, channels)), jnp.float32)
        kernel = jnp.asarray(rng.normal(size=(3, 3, channels, channels)), jnp.float32)
        bias = jnp.zeros(channels)
        run = lambda algorithm: jax.jit(conv2d, static_argnames="algorithm")(  # noqa: E731
            x, kernel, bias, algorithm=algorithm)
        auto = run("winograd_wide")
        np.testing.assert_array_equal(auto, run(same_as))
        other = "direct" if same_as == "winograd" else "winograd"
        assert not np.array_equal(auto, run(other))


def test_unknown_algorithm_is_an_error():
    with pytest.raises(ValueError, match="unknown convolution algorithm"):
        conv2d(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)), jnp.zeros(2), algorithm="fft")


@pytest.mark.parametrize("size,stride,algorithm", [
    (3, 1, "winograd"), (5, 2, "winograd"), (5, 2, "direct"), (3, 1, "direct"), (1, 1, "winograd"),
])
def test_prepared_conv_equals_xla_convolution(size, stride, algorithm):
    """The kernel-prepared convolution (IGNN's loop) against XLA's own strided convolution."""
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(2, 11, 10, 6)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(size, size, 6, 5)), jnp.float32)
    bias = jnp.asarray(rng.normal(size=5), jnp.float32)
    pad = (size - 1) // 2
    want = jax.lax.conv_general_dilated(x, kernel, (stride, stride), ((pad, pad), (pad, pad)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
    got = jax.jit(prepared_conv2d(kernel, bias, stride, algorithm))(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
