#!/usr/bin/env python3
"""A TCP proxy that adds latency: forwards 127.0.0.1:LISTEN <-> 127.0.0.1:TARGET and
holds every chunk it reads for DELAY_MS before writing it on, in each direction
independently, in order (so 1 ms each way is a 2 ms round trip on top of loopback).

    delay_proxy.py LISTEN_PORT TARGET_PORT [DELAY_MS]

Prints "ready" on stdout once listening; runs until killed. The event loop uses
select(), whose timeout has microsecond resolution (epoll's is rounded up to whole
milliseconds, which would make 1 ms into 1-2 ms). asyncio sets TCP_NODELAY on its
sockets, so the proxy adds no Nagle delays of its own."""

import asyncio
import selectors
import sys

QUEUE_CHUNKS = 1024  # per direction: bounds memory when one side is slow to read


async def forward(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue(QUEUE_CHUNKS)

    async def read_side():
        while True:
            try:
                data = await reader.read(256 * 1024)
            except ConnectionError:
                data = b""
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except ConnectionError:
                return

    await asyncio.gather(read_side(), write_side())


async def handle(client_reader, client_writer, target, delay):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            forward(client_reader, server_writer, delay),
            forward(server_reader, client_writer, delay),
        )
    finally:
        for w in (client_writer, server_writer):
            w.close()


async def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    delay = (float(sys.argv[3]) if len(sys.argv) > 3 else 1.0) / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target, delay), "127.0.0.1", listen, backlog=1000
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main())
