#!/usr/bin/python3
"""Fleet-mode scenario: N `smarthost serve` instances in front of one fake Mailgun API, with the upstream's
rate limit shared through a real redis-server ("redis") or each instance on its own limit ("local").

It offers every instance more mail than the limit allows, then reports per mode: messages delivered, throughput,
the busiest rate_limit_window span against the limit, and each instance's share. With --outage, redis-server is
killed part way and started again (mail must keep flowing and none may be lost).

    bench/fleet/fleet_bench.py --smarthost build/smarthost            # 3 instances, 600 per 60 s, 120 s per mode
    bench/fleet/fleet_bench.py --duration 30 --mode redis --outage 10:5

Only the Python standard library and the redis-server package are needed.
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class FakeMailgun:
    """Answers every POST like Mailgun's messages.mime and records when it arrived and from which instance."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = []  # (monotonic time, instance index)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                marker = body.find(b"From: <relay")
                instance = -1
                if marker >= 0:
                    dash = body.find(b"-", marker)
                    try:
                        instance = int(body[marker + 12:dash])
                    except ValueError:
                        pass
                with outer.lock:
                    outer.arrivals.append((time.monotonic(), instance))
                    n = len(outer.arrivals)
                answer = json.dumps({"id": "<%d@mg.example.com>" % n, "message": "Queued. Thank you."}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def snapshot(self):
        with self.lock:
            return list(self.arrivals)

    def close(self):
        self.server.shutdown()


class Redis:
    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            raise RuntimeError("redis-server did not start")

    def kill(self):
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None


def write_config(path, index, api_url, args, redis_url):
    port = free_port()
    base = os.path.dirname(path)
    lines = [
        'provider = "mailgun"', 'name = "api"', "[config]", 'api_key = "key-bench"', 'domain = "mg.example.com"',
        'endpoint = "%s"' % api_url, "[options]", "rate_limit = %d" % args.rate_limit,
        "rate_limit_window = %d" % args.window, "burst_limit = %d" % args.burst,
        "[server]", 'listen = ["127.0.0.1:%d"]' % port, 'hostname = "relay%d.bench"' % index,
        "[queue]", 'dir = "%s"' % os.path.join(base, "queue"), "retry_schedule = [1]",
        "[metrics]", 'listen = "127.0.0.1:%d"' % free_port(),
    ]
    if redis_url:
        lines += ["[caching]", 'cache_provider = "redis"', 'redis_url = "%s"' % redis_url,
                  "redis_fallback_fraction = %g" % args.fallback_fraction]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return port


def submit(port, index, count, sent):
    message_number = 0
    while message_number < count:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                while message_number < count:
                    m = EmailMessage()
                    sender = "relay%d-%d@example.com" % (index, message_number)
                    m["From"] = "<%s>" % sender
                    m["To"] = "user@example.net"
                    m["Subject"] = "fleet bench %d" % message_number
                    m["Message-ID"] = "<%d.%d@fleet.bench>" % (index, message_number)
                    m.set_content("Hello from the fleet bench.\n")
                    smtp.send_message(m, from_addr=sender, to_addrs=["user@example.net"])
                    message_number += 1
                    sent[index] = message_number
        except (OSError, smtplib.SMTPException) as e:
            print("  instance %d: submission interrupted (%s); retrying" % (index, e), file=sys.stderr)
            time.sleep(0.5)


def busiest(times, span):
    best, i = 0, 0
    for j in range(len(times)):
        while times[j] - times[i] > span:
            i += 1
        best = max(best, j - i + 1)
    return best


def run_mode(mode, args):
    work = tempfile.mkdtemp(prefix="fleet-bench-")
    api = FakeMailgun()
    redis = Redis(work) if mode == "redis" else None
    relays = []
    try:
        if redis:
            redis.start()
        redis_url = "redis://127.0.0.1:%d/0" % redis.port if redis else None
        ports = []
        for i in range(args.instances):
            d = os.path.join(work, "relay%d" % i)
            os.makedirs(d)
            config = os.path.join(d, "smarthost.toml")
            ports.append(write_config(config, i, api.url, args, redis_url))
            log = open(os.path.join(d, "relay.log"), "w")
            relays.append(subprocess.Popen([args.smarthost, "serve", "--config", config], stdout=log, stderr=log))
        for p in ports:
            if not wait_port(p):
                raise RuntimeError("a smarthost instance did not start; see %s" % work)
        time.sleep(0.5)

        # Enough mail that the limit binds all the way: twice what the whole window allows, per instance.
        per_instance = args.messages or int(2 * (args.burst + args.rate_limit * args.duration / args.window))
        sent = [0] * args.instances
        submitters = [threading.Thread(target=submit, args=(ports[i], i, per_instance, sent), daemon=True)
                      for i in range(args.instances)]
        start = time.monotonic()
        for t in submitters:
            t.start()
        outage = None
        if args.outage and redis:
            at, length = (float(x) for x in args.outage.split(":"))
            outage = (at, length)
        killed = False
        while time.monotonic() - start < args.duration:
            elapsed = time.monotonic() - start
            if outage and not killed and elapsed >= outage[0]:
                print("  t=%.0fs: killing redis-server" % elapsed)
                redis.kill()
                killed = True
            if outage and killed and redis.process is None and elapsed >= outage[0] + outage[1]:
                print("  t=%.0fs: starting redis-server again" % elapsed)
                redis.start()
            time.sleep(0.1)
        arrivals = [a for a in api.snapshot() if a[0] - start <= args.duration]
        times = [a[0] for a in arrivals]
        shares = [sum(1 for a in arrivals if a[1] == i) for i in range(args.instances)]
        rate = args.rate_limit / args.window
        span = min(args.window, args.duration)
        result = {
            "mode": mode,
            "instances": args.instances,
            "submitted": sum(sent),
            "delivered": len(arrivals),
            "throughput": len(arrivals) / args.duration,
            "busiest_span_s": span,
            "busiest": busiest(times, span),
            "shared_bound": args.burst + rate * span + args.instances * lease_batch(args),
            "shares": shares,
        }
        return result
    finally:
        for r in relays:
            r.send_signal(signal.SIGKILL)
            r.wait()
        if redis:
            redis.kill()
        api.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("  kept %s" % work)


def lease_batch(args):
    # As policy/redis/shared_upstream.cpp: a quarter second of the rate, at least 1, at most 16 and the burst.
    rate = args.rate_limit / args.window
    return int(max(1, min(16, args.burst, int(rate * 0.25))))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smarthost", default=os.path.join(here, "..", "..", "build", "smarthost"))
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rate-limit", type=int, default=600)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds per mode")
    parser.add_argument("--messages", type=int, default=0, help="per instance (default: enough to saturate)")
    parser.add_argument("--fallback-fraction", type=float, default=0.5)
    parser.add_argument("--mode", choices=["both", "redis", "local"], default="both")
    parser.add_argument("--outage", default="", help="AT:LENGTH seconds: kill redis-server at AT, restart after LENGTH")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = parser.parse_args()
    if not os.path.exists(args.smarthost):
        sys.exit("no smarthost binary at %s (use --smarthost)" % args.smarthost)
    if shutil.which("redis-server") is None and args.mode != "local":
        sys.exit("redis-server is not installed (apt-get install redis-server)")

    modes = ["redis", "local"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        print("running %s mode: %d instances, rate_limit %d per %ds, burst %d, %.0fs" %
              (mode, args.instances, args.rate_limit, args.window, args.burst, args.duration))
        results.append(run_mode(mode, args))
    print()
    print("%-6s %9s %9s %9s %12s %14s  %s" % ("mode", "submitted", "delivered", "msg/s", "busiest span",
                                               "shared bound", "per instance"))
    for r in results:
        print("%-6s %9d %9d %9.2f %6d in %2ds %14.0f  %s" % (
            r["mode"], r["submitted"], r["delivered"], r["throughput"], r["busiest"], r["busiest_span_s"],
            r["shared_bound"], "/".join(str(s) for s in r["shares"])))
    print("\nshared bound = burst + rate x span + instances x lease batch (%d): the most the fleet may send in any "
          "span with Redis." % lease_batch(args))


if __name__ == "__main__":
    main()
