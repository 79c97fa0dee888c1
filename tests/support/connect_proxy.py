#!/usr/bin/python3
"""An HTTP CONNECT proxy for the end-to-end upstream tests: it records the host:port each CONNECT asks for and
tunnels every connection to one local port (a fake provider with TLS), whatever host was asked for. It lets a test
see which default API host a provider's config (region, no endpoint) leads to, without DNS or the internet.

Usage: connect_proxy.py TARGET_PORT RECORD_FILE PORT_FILE
  RECORD_FILE gets one line per CONNECT ("api.eu.mailgun.net:443"); PORT_FILE the port it listens on.
"""
import asyncio
import os
import signal
import sys

target_port = int(sys.argv[1])
record_file, port_file = sys.argv[2], sys.argv[3]
HEAD_LIMIT = 16 * 1024
IDLE_TIMEOUT = 30


async def pipe(reader, writer):
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_reader, client_writer):
    try:
        head = await asyncio.wait_for(client_reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    if len(head) > HEAD_LIMIT:
        client_writer.close()
        return
    words = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(words) != 3 or words[0] != "CONNECT":
        client_writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        client_writer.close()
        return
    with open(record_file, "a") as f:
        f.write(words[1] + "\n")
    try:
        upstream_reader, upstream_writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", target_port), 10)
    except (asyncio.TimeoutError, OSError):
        client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        client_writer.close()
        return
    client_writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await client_writer.drain()
    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


asyncio.run(main())
