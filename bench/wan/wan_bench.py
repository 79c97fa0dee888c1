#!/usr/bin/python3
"""Upstream round trips: smarthost relaying to an SMTP server a WAN away, with BDAT (CHUNKING) and with DATA.

Between smarthost and the upstream sits a proxy that delays every byte by half the round-trip time in each
direction (the kernel's netem is not available in every container; a proxy is). The upstream is the tests'
fake_smtp.py offering PIPELINING and CHUNKING, so both runs talk to the same server: one with the smtp upstream's
`chunking = true` (the default: MAIL, RCPT and "BDAT <n> LAST" with the message in one round trip) and one with
`chunking = false` (MAIL, RCPT and DATA, then the message after the 354: two round trips).

    bench/wan/wan_bench.py --smarthost build-bench/smarthost                 # 30 ms, 5 upstream connections
    bench/wan/wan_bench.py --rtt-ms 80 --connections 2 --messages 300

Needs only the Python standard library, the built smarthost and smtp_load (both from `make bench`).
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import procs, smarthost  # noqa: E402

FAKE_SMTP = os.path.join(ROOT, "tests", "support", "smtp_fake", "fake_smtp.py")


class DelayProxy:
    """Forwards 127.0.0.1:port to the target, each chunk delivered `one_way` seconds after it was read, in order."""

    def __init__(self, target_port, one_way):
        self.target_port = target_port
        self.one_way = one_way
        self.port = procs.free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self):
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def _pump(self, reader, writer):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                delay = due - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                queue.put_nowait((self.loop.time() + self.one_way, data))
        except ConnectionError:
            pass
        queue.put_nowait((self.loop.time() + self.one_way, None))
        try:
            await sender
        except ConnectionError:
            pass

    async def _connection(self, client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pump(client_reader, up_writer), self._pump(up_reader, client_writer),
                             return_exceptions=True)


class FakeUpstream:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "upstream")
        os.makedirs(self.dir)
        scenario = os.path.join(self.dir, "scenario.json")
        with open(scenario, "w") as f:
            json.dump({"ehlo": ["PIPELINING", "CHUNKING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 50000000"]}, f)
        self.ports = os.path.join(self.dir, "ports.json")
        self.events = os.path.join(self.dir, "events.jsonl")
        self.process = subprocess.Popen(["/usr/bin/python3", FAKE_SMTP, scenario, self.ports, self.events],
                                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "err"), "w"))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("fake_smtp.py did not start")
            time.sleep(0.05)
        self.port = json.load(open(self.ports))["smtp"]

    def delivered(self):
        """Messages received, and how many came as BDAT chunks."""
        messages = chunks = 0
        with open(self.events) as f:
            for line in f:
                if '"event": "message"' in line:
                    messages += 1
                elif '"event": "bdat"' in line:
                    chunks += 1
        return messages, chunks

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def run(args, chunking, workdir):
    upstream = FakeUpstream(workdir)
    proxy = DelayProxy(upstream.port, args.rtt_ms / 2000.0)
    smarthost.UPSTREAM_CONNECTIONS = args.connections
    config = smarthost.smtp_upstream(proxy.port).replace(
        "timeout = 30", "timeout = 30\nchunking = " + ("true" if chunking else "false"))
    relay = smarthost.Smarthost(args.smarthost, workdir, config, name="smarthost")
    relay.start()
    try:
        load = args.load
        started = time.monotonic()
        out = subprocess.run([load, "--port", str(relay.port), "--messages", str(args.messages), "--sessions", "20",
                              "--size", str(args.size)], capture_output=True, text=True, check=True).stdout
        accepted = json.loads(out.strip().splitlines()[-1])
        deadline = time.monotonic() + args.timeout
        while upstream.delivered()[0] < args.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - started
        messages, chunks = upstream.delivered()
        return {"chunking": chunking, "messages": messages, "bdat_chunks": chunks, "seconds": round(took, 2),
                "end_to_end_per_s": round(messages / took, 1), "accepted_per_s": accepted["accepted_per_s"]}
    finally:
        relay.stop()
        upstream.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smarthost", default=os.path.join(ROOT, "build-bench", "smarthost"))
    p.add_argument("--load", default=os.path.join(ROOT, "build-bench", "bench", "smtp_load"),
                   help="the load generator (bench/tools/smtp_load)")
    p.add_argument("--rtt-ms", type=float, default=30.0)
    p.add_argument("--connections", type=int, default=5, help="upstream connections (pool size)")
    p.add_argument("--messages", type=int, default=500)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds of both modes")
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args()
    results = []
    for _ in range(args.rounds):
        for chunking in (True, False):
            with tempfile.TemporaryDirectory(prefix="wan-bench-", dir="/var/tmp") as workdir:
                r = run(args, chunking, workdir)
                results.append(r)
                print(json.dumps(r), flush=True)
    print(f"\n{args.messages} messages of {args.size} B, {args.connections} upstream connections, "
          f"{args.rtt_ms:g} ms round trip")
    print("| upstream transfer | delivered | end to end msg/s | per connection msg/s |")
    print("|---|---|---|---|")
    for r in results:
        mode = "BDAT (chunking = true)" if r["chunking"] else "DATA (chunking = false)"
        print(f"| {mode} | {r['messages']} | {r['end_to_end_per_s']} | "
              f"{r['end_to_end_per_s'] / args.connections:.1f} |")


if __name__ == "__main__":
    main()
