#!/usr/bin/env python3
"""scripts/bench's aiosmtplib client: N asyncio tasks at once.

    aiosmtplib_client.py HOST PORT COUNT SIZE RECIPIENTS CONNECTIONS

Sends COUNT messages of SIZE bytes (bench/message.py) over CONNECTIONS connections at
once, one asyncio task each (an even share each, one session per task). Prints the
elapsed seconds, from before the first connect to after the last QUIT."""

import asyncio
import os
import sys
import time

import aiosmtplib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from message import message  # noqa: E402


async def session(host, port, n, msg, to):
    s = aiosmtplib.SMTP(hostname=host, port=port, local_hostname="localhost", timeout=60,
                        start_tls=False)
    await s.connect()
    for _ in range(n):
        await s.sendmail("a@example.com", to, msg)
    await s.quit()


async def main():
    host, port, count, size, rcpts, conns = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                             int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    msg = message(size)
    to = [f"b{i}@example.com" for i in range(rcpts)]
    shares = [count // conns + (1 if i < count % conns else 0) for i in range(conns)]
    t0 = time.perf_counter()
    await asyncio.gather(*(session(host, port, n, msg, to) for n in shares if n))
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    asyncio.run(main())
