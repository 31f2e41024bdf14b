"""The platform's object model: objects, definitions, contexts, namespaces, stubs and calls,
deploys (registering a name again), HTTP, alarms, WebSockets, a record's parts and RPC
capabilities (functions, RpcTarget, streams passed by reference; ``rpc.py``). May import
``_core`` and ``_storage``.
"""
