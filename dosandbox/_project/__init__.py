"""Folders of objects on disk: discovery, naming checks, type stubs and wrangler files.
May import ``_core``, ``_storage`` and ``_runtime`` (never ``_notebook``).
"""
