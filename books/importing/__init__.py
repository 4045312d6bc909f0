"""Bulk import of books from CSV or JSON Lines files (``manage.py import_books``).

readers.py opens and decodes a file and maps its columns to Book fields, rows.py holds the
per-row rules (the API's, plus a few documented import-only leniencies), upsert.py writes
batches to the database, and pipeline.py ties them together. See docs/import.md.
"""
