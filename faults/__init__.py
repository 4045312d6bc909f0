"""Fault tests: Redis and PostgreSQL outages and worker signals against the app under granian
(deploy/server.py).

Run with `make faults` (`.venv/bin/python -m pytest faults`); see docs/reliability.md.
"""
