"""Helper scripts; a package so that tests and benchmarks can import scripts.ports."""
