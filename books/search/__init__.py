"""The catalogue's search: ranked by relevance, forgiving, the same on PostgreSQL and SQLite.

terms.py reads what a search asks for; postgres.py and sqlite.py turn it into conditions on
each database's indexes; ranking.py orders the matches in tiers and pages through them.
"""
