"""One SQLite database per object: the database and its write batch, KV, SQL and the authorizer.
May import ``_core`` only.
"""
