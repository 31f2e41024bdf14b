"""Using a sandbox after close() is a typed DriverError that says how to start again."""
import warnings

import pytest

from dosandbox import DurableObject
from dosandbox.errors import DurableObjectError


class Obj(DurableObject):
    async def ping(self):
        return "pong"


def test_call_after_close_raises_typed_error(do_sandbox):
    """A call after close() fails with a DurableObjectError saying the sandbox is closed."""
    stub = do_sandbox.register("obj", Obj).get("a")
    assert do_sandbox.run(stub.ping()) == "pong"
    do_sandbox.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DurableObjectError, match="closed"):
            do_sandbox.run(stub.ping())
