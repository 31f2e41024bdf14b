"""What exists only in the sandbox: handles, storage views and simulated clients.
May import ``_core``, ``_storage`` and ``_runtime`` (never ``_project``).
"""
