#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that adds a fixed delay to each direction (so
DELAY_MS each way is 2 x DELAY_MS of round-trip time), for the benchmarks:
this machine has no netem. Bytes keep their order; bandwidth is not limited.

usage: delay-proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS
Stops by itself after two hours at the latest."""
import asyncio
import sys

LISTEN, UPSTREAM, DELAY = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000.0


async def pipe(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            queue.put_nowait((loop.time() + DELAY, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + DELAY, None))
    try:
        await sender
    except OSError:
        pass


async def handle(creader, cwriter):
    try:
        ureader, uwriter = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    async with server:
        await asyncio.wait_for(server.serve_forever(), timeout=7200)


try:
    asyncio.run(main())
except (asyncio.TimeoutError, KeyboardInterrupt):
    pass
