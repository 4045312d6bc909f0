"""The lecture's WSGI application, importable from outside its folder.

granian names a target's module by walking up the folders that are packages, and
bench/reference/seed is one (for the tools), so `bookstore.wsgi` run from there would be
imported as `bench.reference.seed.bookstore.wsgi` and its own imports would fail. This module
puts the seed's folder first on the path and imports its application as the lecture does.
"""

import sys
from pathlib import Path

SEED_PROJECT = Path(__file__).resolve().parent / "reference" / "seed"
sys.path.insert(0, str(SEED_PROJECT))

from bookstore.wsgi import application  # noqa: E402  (the seed's, found first on the path)

__all__ = ["application"]
