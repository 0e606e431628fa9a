"""The fan-out benchmark's baseline: a bare `websockets` server that broadcasts, nothing else.

Clients connect to any path but `/trigger` and are kept in a set. Every text message that
arrives on `/trigger` is sent as is to all of them with `websockets.broadcast` (the library's
own fast path: frames written straight to each transport, no per-client task, no queue). No
authentication, no database, no rendering, no per-viewer filter, no replay. It runs on uvloop
when installed, as `samvirke serve` (uvicorn) does, so the ratio measures what the app adds.

    python bench/fanout_baseline.py --port P     # prints "ready" once listening
"""

from __future__ import annotations

import argparse
import asyncio

from websockets.asyncio.server import ServerConnection, broadcast, serve

CLIENTS: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    if connection.request is not None and connection.request.path == "/trigger":
        async for message in connection:
            broadcast(CLIENTS, message)
        return
    CLIENTS.add(connection)
    try:
        await connection.wait_closed()
    finally:
        CLIENTS.discard(connection)


async def main(host: str, port: int) -> None:
    async with serve(handler, host, port, compression=None, max_size=2**20, backlog=2048):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(args.host, args.port))
    except ImportError:
        asyncio.run(main(args.host, args.port))
