"""Reference systems the benchmark measures ours against."""
