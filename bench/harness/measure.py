"""One measurement: a scenario on one relay. Starts a fresh sink and a fresh relay (new queue), warms up, runs the
load generator, waits until the sink (or the fake provider, via /metrics) has every accepted message, samples
the relay's memory throughout, stops everything, and returns the numbers as a dict.
"""
import json
import os
import shutil
import time

from . import postfix, procs, sink, smarthost

LOAD_LIMIT_S = 120     # the most one load run may take
DELIVERY_WAIT_S = 120  # the most to wait for end-to-end delivery after the load


class Context:
    def __init__(self, build, workdir, deadline, keep=False):
        self.build = os.path.abspath(build)
        self.workdir = workdir
        self.deadline = deadline  # time.monotonic() after which no measurement starts
        self.keep = keep
        self.smarthost = os.path.join(self.build, "smarthost")
        self.smtp_load = os.path.join(self.build, "bench", "smtp_load")
        self.idle = os.path.join(self.build, "bench", "idle_connections")
        self.fake_provider = os.path.join(self.build, "bench", "fake_providers", "fake_provider")
        if not os.path.exists(self.fake_provider):  # built under tests/ when tests are on
            alt = os.path.join(self.build, "tests", "support", "fake_providers", "fake_provider")
            if os.path.exists(alt):
                self.fake_provider = alt

    def remaining(self):
        return self.deadline - time.monotonic()


def _load(ctx, port, args, limit):
    argv = [ctx.smtp_load, "--port", str(port), "--limit-s", str(int(limit)), *args]
    out = procs.run(argv, timeout=limit + 60, check=False)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"smtp_load failed ({out.returncode}): {out.stderr.strip()[:300]}")


def _smtp_source(port, scenario, limit):
    """smtp-source as in the issue: no latencies, only the time the whole run took."""
    argv = ["smtp-source", "-s", str(scenario.sessions), "-l", str(scenario.size), "-m", str(scenario.messages),
            "-f", "sender@bench.example", "-t", "rcpt0@sink.example", "-M", "load.bench.example",
            f"127.0.0.1:{port}"]
    start = time.monotonic()
    out = procs.run(argv, timeout=limit, check=False)
    elapsed = time.monotonic() - start
    ok = out.returncode == 0
    return {"messages": scenario.messages, "accepted": scenario.messages if ok else 0, "rejected": 0,
            "errors": 0 if ok else scenario.messages, "elapsed_s": elapsed,
            "accepted_per_s": scenario.messages / elapsed if ok and elapsed > 0 else 0.0, "accept_latency_ms": None,
            "first_error": "" if ok else (out.stderr.strip() or out.stdout.strip())[:300]}


def _wait_delivered(counter, target, timeout, alive):
    deadline = time.monotonic() + timeout
    while True:
        c = counter()
        now = time.monotonic()
        if c is not None and c >= target:
            return True, now, c
        if now >= deadline or not alive():
            return False, now, c or 0
        time.sleep(0.01)


def _settle():
    """Writes out what the cell before left dirty (its queue files, the removal of its directory): syncfs() and
    fsync() would otherwise flush it in the middle of the next relay's measurement."""
    os.sync()
    time.sleep(0.2)


def run_cell(ctx, scenario, relay, round_number=1):
    _settle()
    cell = os.path.join(ctx.workdir, f"{scenario.name}-{relay}-{round_number}")
    os.makedirs(cell, exist_ok=True)
    os.chmod(cell, 0o755)
    result = {"scenario": scenario.name, "relay": relay, "round": round_number}
    started = []  # stopped in reverse order, whatever happens
    try:
        if relay == "smarthost_idle":
            return {**result, **_idle(ctx, scenario, cell, started)}
        the_sink = fake = None
        if relay == "smarthost_http":
            fake = smarthost.FakeMailgun(ctx.fake_provider, cell)
            started.append(fake)
        else:
            the_sink = sink.SmtpSink(cell)
            started.append(the_sink)
        if relay == "direct":
            port, pids, counter = the_sink.port, (lambda: []), the_sink.count
            alive = the_sink.process.alive
        elif relay == "postfix":
            pf = postfix.Postfix(cell, the_sink.port)
            started.append(pf)
            pf.start()
            port, pids, counter = pf.port, pf.pids, the_sink.count
            alive = lambda: bool(pf.master_pid) and the_sink.process.alive()
            result["relay_version"] = "Postfix " + postfix.version()
        else:
            upstream = (smarthost.mailgun_upstream(fake.endpoint) if fake else smarthost.smtp_upstream(the_sink.port))
            sh = smarthost.Smarthost(ctx.smarthost, cell, upstream)
            started.append(sh)
            sh.start()
            port, pids = sh.port, sh.pids
            if fake:
                counter = lambda: sh.metric("smarthost_messages_delivered_total")
                alive = lambda: sh.process.alive() and fake.process.alive()
            else:
                counter = the_sink.count
                alive = lambda: sh.process.alive() and the_sink.process.alive()
        sampler = procs.MemorySampler(pids).start()
        try:
            limit = max(10, min(LOAD_LIMIT_S, ctx.remaining()))
            if scenario.warmup:
                base = counter() or 0
                w = _load(ctx, port, scenario.load_args(scenario.warmup), limit)
                _wait_delivered(counter, base + w["accepted"], 30, alive)
            base = counter() or 0
            cpu0 = procs.cpu_seconds(pids())
            sink_cpu0 = procs.cpu_seconds([the_sink.process.pid]) if the_sink else 0.0
            load_cpu0 = procs.children_cpu_seconds()
            busy0, total0 = procs.machine_cpu_seconds()
            t0 = time.monotonic()
            if scenario.generator == "smtp-source":
                load = _smtp_source(port, scenario, limit)
            else:
                load = _load(ctx, port, scenario.load_args(), limit)
            wait = max(10, min(DELIVERY_WAIT_S, ctx.remaining()))
            reached, t_done, count = _wait_delivered(counter, base + load["accepted"], wait, alive)
            cpu = procs.cpu_seconds(pids()) - cpu0
            sink_cpu = (procs.cpu_seconds([the_sink.process.pid]) - sink_cpu0) if the_sink else None
            load_cpu = procs.children_cpu_seconds() - load_cpu0
            busy1, total1 = procs.machine_cpu_seconds()
            sampler.sample()
        finally:
            sampler.stop()
        delivered = count - base
        e2e_s = t_done - t0
        result.update({
            "load": load,
            "accepted": load["accepted"],
            "accepted_per_s": load["accepted_per_s"],
            "delivered": delivered,
            "delivered_all": reached,
            "end_to_end_s": e2e_s,
            "end_to_end_per_s": delivered / e2e_s if e2e_s > 0 else 0.0,
            "accept_p50_ms": (load.get("accept_latency_ms") or {}).get("p50"),
            "accept_p99_ms": (load.get("accept_latency_ms") or {}).get("p99"),
            "relay_cpu_s": cpu,
            "relay_cpu_ms_per_message": 1000 * cpu / delivered if delivered > 0 and relay != "direct" else None,
            # The CPU budget: what the generator, the sink and the whole machine spent per delivered message,
            # and how busy the machine was (1.0 = every CPU busy, iowait counted as idle).
            "load_cpu_ms_per_message": 1000 * load_cpu / delivered if delivered > 0 else None,
            "sink_cpu_ms_per_message": 1000 * sink_cpu / delivered if delivered > 0 and sink_cpu is not None else None,
            "machine_cpu_ms_per_message": 1000 * (busy1 - busy0) / delivered if delivered > 0 else None,
            "machine_busy": (busy1 - busy0) / (total1 - total0) if total1 > total0 else None,
            "peak_rss_kib": sampler.peak_rss_kib,
            "peak_pss_kib": sampler.peak_pss_kib,
            "peak_processes": sampler.peak_processes,
        })
        return result
    except Exception as e:  # a failed cell is reported, and the run goes on with the next
        result["error"] = str(e)
        return result
    finally:
        for p in reversed(started):
            try:
                p.stop()
            except Exception as e:
                result.setdefault("error", f"stop: {e}")
        if not ctx.keep and "error" not in result:
            shutil.rmtree(cell, ignore_errors=True)


def _idle(ctx, scenario, cell, started):
    the_sink = sink.SmtpSink(cell)
    started.append(the_sink)
    sh = smarthost.Smarthost(ctx.smarthost, cell, smarthost.smtp_upstream(the_sink.port))
    started.append(sh)
    sh.start()
    time.sleep(0.5)  # let start-up allocations settle before the baseline RSS
    argv = [ctx.idle, "--port", str(sh.port), "--connections", str(scenario.idle_connections), "--pid",
            str(sh.process.pid), "--in-flight", "100", "--probes", "200", "--hold-ms", "2000"]
    out = procs.run(argv, timeout=max(30, min(300, ctx.remaining())), check=False)
    try:
        idle = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"idle_connections failed ({out.returncode}): {out.stderr.strip()[:300]}")
    if not sh.process.alive():
        raise RuntimeError("smarthost exited during the idle test")
    return {"idle": idle, "peak_rss_kib": idle.get("rss_held_kib", 0)}
