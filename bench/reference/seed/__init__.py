"""The lecture's project, unchanged (see bench/run.py); a package here only for tools."""
