"""Catalogue reads from PostgreSQL streaming replicas, writes and accounts on the primary.

- config.py: the replicas' DATABASES entries from DATABASE_REPLICA_URLS, and the refusal of a
  set-up that could hide a user's own write (bookstore.settings calls `replica_databases`).
- health.py: which replicas may serve reads now (up, within REPLICA_MAX_LAG_SECONDS), checked
  by a background thread in each process.
- routing.py: the database router: a catalogue read goes to a healthy replica unless its
  request writes, is in a transaction, or comes from a user who wrote within
  READ_YOUR_WRITES_SECONDS.
- middleware.py: gives each request its read scope, notes writes, and answers a read whose
  replica failed again from the primary.

How it works and why these bounds: docs/scaling.md. config.py is read by the settings, before
the apps load: it imports no model and nothing else from this package.
"""
