#!/usr/bin/python3
"""A deep queue after an upstream outage: smarthost and Postfix, each queueing mail while its upstream is down, then
draining it once the upstream is back.

For each relay: an upstream port where nothing listens yet; N messages of 4 KiB from 20 sessions (every one is
accepted, tried, refused and deferred); then Postfix's smtp-sink starts on that port and the queue is flushed
(`smarthost queue flush`, `postqueue -f`). Reported: the accept rate during the outage, the memory the relay holds
with the queue full, the drain rate (until the sink has every message, and until the queue directory is empty) and
the peak memory during the drain (RSS for smarthost, the sum of PSS over Postfix's processes).

    bench/drain/drain_bench.py                                  # 20,000 messages, both relays
    bench/drain/drain_bench.py --messages 100000 --relays smarthost

Needs what `make bench` installs (Postfix, smtp-sink, smtp_load and a Release build).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import postfix, procs, sink, smarthost  # noqa: E402


def queued_files(folders):
    """Regular files under the queue folders (a message may be one file or a file and its sidecar)."""
    count = 0
    for folder in folders:
        for _, _, files in os.walk(folder):
            count += len(files)
    return count


def sink_on(port, workdir):
    """smtp-sink on a port chosen earlier (the relay was told it before anything listened there)."""
    chosen = procs.free_port
    procs.free_port = lambda: port
    try:
        return sink.SmtpSink(workdir)
    finally:
        procs.free_port = chosen


def run(args, relay, workdir):
    upstream_port = procs.free_port()  # nothing listens here until the drain
    if relay == "smarthost":
        server = smarthost.Smarthost(args.smarthost, workdir, smarthost.smtp_upstream(upstream_port))
        server.start()
        pids = server.pids
        folders = [os.path.join(server.root, "queue", "active")]
        flush = [args.smarthost, "queue", "flush", "--config", server.config_path]
    else:
        server = postfix.Postfix(workdir, upstream_port)
        server.start()
        pids = server.pids
        folders = [os.path.join(server.queue, q) for q in ("incoming", "active", "deferred")]
        flush = ["postqueue", "-c", server.config, "-f"]
    the_sink = None
    try:
        out = subprocess.run([args.load, "--port", str(server.port), "--messages", str(args.messages),
                              "--sessions", "20", "--size", "4096"], capture_output=True, text=True,
                             check=True).stdout
        accepted = json.loads(out.strip().splitlines()[-1])
        # Until every message has been tried once and waits in the queue (Postfix's first attempt may lag).
        settle = time.monotonic() + args.timeout
        while time.monotonic() < settle and relay == "postfix" and queued_files(folders[:2]) > 0:
            time.sleep(0.2)
        time.sleep(1)
        if relay == "smarthost":
            held = procs.memory_kib(pids()[0])[0]
        else:
            held = sum(procs.memory_kib(p)[1] for p in procs.children_of(pids()) | set(pids()))
        the_sink = sink_on(upstream_port, workdir)
        sampler = procs.MemorySampler(pids, interval=0.1).start()
        cpu0 = procs.cpu_seconds(pids())
        started = time.monotonic()
        subprocess.run(flush, capture_output=True, check=True)
        reached, delivered_at, count = the_sink.wait_for(args.messages, args.timeout)
        while time.monotonic() < started + args.timeout and queued_files(folders) > 0:
            time.sleep(0.05)
        emptied_at = time.monotonic()
        sampler.stop()
        cpu = procs.cpu_seconds(pids()) - cpu0
        return {"relay": relay, "messages": args.messages, "accepted": accepted["accepted"],
                "accepted_per_s": round(accepted["accepted_per_s"]), "held_queue_mib": round(held / 1024, 1),
                "delivered": count, "delivered_per_s": round(count / (delivered_at - started)),
                "queue_empty_s": round(emptied_at - started, 2), "left_in_queue": queued_files(folders),
                "drain_peak_mib": round(max(sampler.peak_rss_kib if relay == "smarthost" else sampler.peak_pss_kib,
                                            1) / 1024, 1),
                "cpu_ms_per_msg": round(1000 * cpu / max(count, 1), 3)}
    finally:
        server.stop()
        if the_sink:
            the_sink.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smarthost", default=os.path.join(ROOT, "build-bench", "smarthost"))
    p.add_argument("--load", default=os.path.join(ROOT, "build-bench", "bench", "smtp_load"),
                   help="the load generator (bench/tools/smtp_load)")
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--relays", default="smarthost,postfix")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a drain may take")
    args = p.parse_args()
    procs.raise_fd_limit()
    results = []
    try:
        for relay in args.relays.split(","):
            with tempfile.TemporaryDirectory(prefix="drain-bench-", dir="/var/tmp") as workdir:
                r = run(args, relay, workdir)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        procs.stop_all()
    print(f"\n{args.messages} messages of 4 KiB queued while the upstream was down, then flushed")
    print("| relay | accepted/s (upstream down) | memory with the queue full | delivered/s | queue empty after |"
          " peak memory while draining | CPU ms/msg |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['relay']} | {r['accepted_per_s']} | {r['held_queue_mib']} MiB | {r['delivered_per_s']} | "
              f"{r['queue_empty_s']} s | {r['drain_peak_mib']} MiB | {r['cpu_ms_per_msg']} |")


if __name__ == "__main__":
    main()
