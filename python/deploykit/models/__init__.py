"""Reference model architectures used by `deploykit demo`, tests and benchmarks."""
