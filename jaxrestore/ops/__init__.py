"""Pure JAX array functions (NHWC): resizing, colour, patches, windowed kNN, aggregation."""
