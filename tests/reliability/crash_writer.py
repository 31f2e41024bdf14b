"""Child process for test_crash.py: writes forever, printing each acknowledged write.

Usage: python crash_writer.py FOLDER START. Each event ``write(i)`` makes two write batches:
the first (KV batch put, a SQL insert and a transaction with KV + SQL) and, after a
suspension, a second (one more key). ``i`` is printed only after ``sb.run`` returned, i.e.
after the output gate let the result out.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from dosandbox import DurableObject, Sandbox


class Writer(DurableObject):
    async def setup(self) -> None:
        self.ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (i INTEGER PRIMARY KEY)")
        self.ctx.sql.exec("CREATE TABLE IF NOT EXISTS u (i INTEGER PRIMARY KEY)")

    async def write(self, i: int) -> int:
        storage = self.ctx.storage
        await storage.put({f"a{i:06d}": i, f"b{i:06d}": "x" * (i % 500)})
        self.ctx.sql.exec("INSERT INTO t VALUES (?)", i)

        async def fn(txn: Any) -> None:
            await txn.put(f"c{i:06d}", i)
            self.ctx.sql.exec("INSERT INTO u VALUES (?)", i)

        await storage.transaction(fn)
        await asyncio.sleep(0)  # ends the first batch
        await storage.put(f"d{i:06d}", i)
        return i


def main() -> None:
    folder, start = sys.argv[1], int(sys.argv[2])
    sb = Sandbox(seed=0, persist=folder)
    sb.register("writer", Writer)
    stub = sb.durable_objects.writer.get("w")
    sb.run(stub.setup())
    print("ready", flush=True)
    i = start
    while True:
        sb.run(stub.write(i))
        print(i, flush=True)
        i += 1


if __name__ == "__main__":
    main()
