"""SQL results cross RPC the way the platform's plain objects do."""

from __future__ import annotations

from dosandbox import Sandbox, define_durable_object


def add_user(ctx, name):  # type: ignore[no-untyped-def]
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
    return ctx.sql.prepare("INSERT INTO users (name) VALUES (?)").bind(name).run()


def test_run_result_returned_over_rpc_arrives_as_a_dict(do_sandbox: Sandbox) -> None:
    """prepare().bind().run() returned from a method arrives as {'changes', 'last_row_id'}."""
    do_sandbox.register("users", define_durable_object(methods={"add_user": add_user}))
    stub = do_sandbox.durable_objects.users.get("u")
    assert do_sandbox.run(stub.add_user("ada")) == {"changes": 1, "last_row_id": 1}
    assert do_sandbox.run(stub.add_user("bob")) == {"changes": 1, "last_row_id": 2}
