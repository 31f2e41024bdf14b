"""The platform's object model: objects, definitions, contexts, namespaces, stubs and calls,
deploys (registering a name again), HTTP, alarms, WebSockets and a record's parts. May import
``_core`` and ``_storage``.
"""
