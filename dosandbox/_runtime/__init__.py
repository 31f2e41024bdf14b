"""The platform's object model: objects, definitions, contexts, namespaces, stubs and calls,
HTTP, alarms, WebSockets and a record's parts. May import ``_core`` and ``_storage``.
"""
