"""The report of a run: the machine it ran on, the table printed at the end (rates, latencies, memory, ratios to
Postfix and to the ceiling), the issue's targets as measured (reported, never asserted), and the JSON file.
Scenarios measured in several rounds are summarised by their median round; each ratio is taken within a round
(the ceiling, Postfix and smarthost of that round) and reported as the median of the rounds' ratios, with their
range.
"""
import json
import os
import platform
import statistics
import subprocess
import time

RATIOS = ("e2e_vs_postfix", "accept_vs_postfix", "e2e_vs_ceiling", "e2e_vs_smtp_upstream")


def machine(workdir):
    info = {"kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
        info["cpus"] = len(models) or os.cpu_count()
    except OSError:
        info["cpus"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            info["memory_mib"] = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        out = subprocess.run(["df", "-T", workdir], capture_output=True, text=True, timeout=5).stdout.splitlines()
        fields = out[-1].split()
        info["spool_filesystem"] = f"{fields[1]} on {fields[0]}"
    except (OSError, IndexError, subprocess.TimeoutExpired):
        pass
    try:
        info["virtualized"] = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True,
                                             timeout=5).stdout.strip() or "none"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return []


def _cell(results, scenario, relay, round_number=None):
    for r in results:
        if r["scenario"] == scenario and r["relay"] == relay and "error" not in r and (
                round_number is None or r.get("round", 1) == round_number):
            return r
    return None


def _ratio(a, b):
    return a / b if a and b else None


def add_ratios(results):
    """Each relay's end-to-end and accept rates against Postfix and against the ceiling of the same scenario and
    round; the HTTP scenario against smarthost over SMTP in the short-connection scenario of the same round."""
    for r in results:
        if "error" in r or "end_to_end_per_s" not in r:
            continue
        n = r.get("round", 1)
        pf = _cell(results, r["scenario"], "postfix", n)
        direct = _cell(results, r["scenario"], "direct", n)
        if pf and r["relay"] != "postfix":
            r["e2e_vs_postfix"] = _ratio(r["end_to_end_per_s"], pf["end_to_end_per_s"])
            r["accept_vs_postfix"] = _ratio(r["accepted_per_s"], pf["accepted_per_s"])
        if direct and r["relay"] != "direct":
            r["e2e_vs_ceiling"] = _ratio(r["end_to_end_per_s"], direct["end_to_end_per_s"])
        if r["relay"] == "smarthost_http":
            smtp = _cell(results, "short_connections", "smarthost", n) or _cell(results, "short_connections",
                                                                                   "smarthost")
            if smtp:
                r["e2e_vs_smtp_upstream"] = _ratio(r["end_to_end_per_s"], smtp["end_to_end_per_s"])


def summarize(results):
    """One entry per scenario and relay: the cell itself when it was measured once; else a copy of its median
    round (by end-to-end rate) whose ratios are the medians of the rounds' ratios, each ratio's values per round
    kept as `<ratio>_rounds`, and `rounds` the number of rounds measured."""
    groups = {}
    for r in results:
        groups.setdefault((r["scenario"], r["relay"]), []).append(r)
    summary = []
    for cells in groups.values():
        good = [c for c in cells if "error" not in c]
        if len(good) <= 1:
            chosen = dict(good[0] if good else cells[0])
            chosen["rounds"] = len(good)
            summary.append(chosen)
            continue
        ordered = sorted(good, key=lambda c: c.get("end_to_end_per_s") or 0)
        chosen = dict(ordered[(len(ordered) - 1) // 2])
        chosen["rounds"] = len(good)
        for key in RATIOS:
            values = [c[key] for c in good if c.get(key) is not None]
            if values:
                chosen[key] = statistics.median(values)
                chosen[key + "_rounds"] = values
        summary.append(chosen)
    return summary


def rounds_table(results):
    """Every round of the scenarios measured more than once: rates and the ratios of that round."""
    counts = {}
    for r in results:
        counts[r["scenario"]] = max(counts.get(r["scenario"], 0), r.get("round", 1))
    head = ["scenario", "round", "relay", "accepted/s", "e2e/s", "e2e/ceiling", "e2e/Postfix", "accept/Postfix",
            "relay ms/msg", "busy"]
    rows = []
    for r in sorted((r for r in results if counts[r["scenario"]] > 1 and "idle" not in r),
                    key=lambda r: (list(counts).index(r["scenario"]), r.get("round", 1))):
        if "error" in r:
            rows.append([r["scenario"], r.get("round", 1), r["relay"], "ERROR: " + r["error"][:60], "", "", "", "",
                         "", ""])
            continue
        versus = (_f(r.get("e2e_vs_smtp_upstream"), "{:.0%} of SMTP") if r["relay"] == "smarthost_http"
                  else _f(r.get("e2e_vs_ceiling"), "{:.0%}"))
        rows.append([r["scenario"], r.get("round", 1), r["relay"], _f(r["accepted_per_s"]), _f(r["end_to_end_per_s"]),
                     versus,
                     _f(r.get("e2e_vs_postfix"), "{:.2f}x"), _f(r.get("accept_vs_postfix"), "{:.2f}x"),
                     _f(r.get("relay_cpu_ms_per_message"), "{:.3f}"), _f(r.get("machine_busy"), "{:.0%}")])
    return _render(head, rows)


def _f(value, fmt="{:.0f}", none="-"):
    return none if value is None else fmt.format(value)


def _render(head, rows):
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def table(results):
    head = ["scenario", "relay", "accepted/s", "e2e/s", "p50 ms", "p99 ms", "peak MiB", "CPU ms/msg", "e2e/Postfix",
            "accept/Postfix", "e2e/ceiling", "notes"]
    rows = []
    for r in results:
        if "idle" in r:
            i = r["idle"]
            pg = i.get("probe_greeting_ms", {})
            rows.append([r["scenario"], r["relay"], "-", "-", _f(pg.get("p50"), "{:.2f}"), _f(pg.get("p99"), "{:.2f}"),
                         _f(r.get("peak_rss_kib", 0) / 1024, "{:.0f}"), "-", "-", "-", "-",
                         f"{i.get('greeted')}/{i.get('connections')} held, {i.get('rss_per_connection_kib', 0):.1f} KiB "
                         f"each, connect p99 {i.get('greeting_ms', {}).get('p99', 0):.1f} ms, "
                         f"{i.get('alive_ok')}/{i.get('alive_checked')} alive"])
            continue
        if "error" in r:
            rows.append([r["scenario"], r["relay"], "-", "-", "-", "-", "-", "-", "-", "-", "-", "ERROR: " + r["error"][:80]])
            continue
        # One process: its RSS. Postfix's many processes share pages, so theirs is the sum of PSS.
        mem = r["peak_pss_kib"] if r["relay"] == "postfix" else r["peak_rss_kib"]
        notes = []
        if r["load"].get("errors") or r["load"].get("rejected"):
            notes.append(f"{r['load'].get('errors', 0)} errors, {r['load'].get('rejected', 0)} rejected")
        if not r["delivered_all"]:
            notes.append(f"only {r['delivered']} of {r['accepted']} delivered in time")
        if r.get("e2e_vs_smtp_upstream"):
            notes.append(f"e2e = {r['e2e_vs_smtp_upstream']:.0%} of smarthost over SMTP")
        if r["relay"] == "postfix":
            notes.append(f"{r['peak_processes']} processes")
        if r.get("rounds", 1) > 1:
            spread = r.get("e2e_vs_ceiling_rounds")
            notes.append(f"median of {r['rounds']} rounds" +
                         (f", e2e/ceiling {min(spread):.0%}-{max(spread):.0%}" if spread else ""))
        rows.append([r["scenario"], r["relay"], _f(r["accepted_per_s"]), _f(r["end_to_end_per_s"]),
                     _f(r.get("accept_p50_ms"), "{:.2f}"), _f(r.get("accept_p99_ms"), "{:.2f}"),
                     _f(mem / 1024 if r["relay"] != "direct" else None, "{:.0f}"),
                     _f(r.get("relay_cpu_ms_per_message"), "{:.2f}"),
                     _f(r.get("e2e_vs_postfix"), "{:.2f}x"), _f(r.get("accept_vs_postfix"), "{:.2f}x"),
                     _f(r.get("e2e_vs_ceiling"), "{:.0%}"), "; ".join(notes)])
    return _render(head, rows)


def cpu_budget(results):
    """Where the machine's CPU went per delivered message in each cell: the load generator, the sink, the relay,
    and the whole machine (kernel work charged to no process, e.g. softirqs, included), with how busy it was.
    When the machine is saturated in both cells, a relay's end-to-end rate can reach at most
    direct's machine ms/msg divided by its own: the bound printed last."""
    head = ["scenario", "relay", "load ms/msg", "sink ms/msg", "relay ms/msg", "machine ms/msg", "busy",
            "CPU bound vs ceiling"]
    rows = []
    for r in results:
        if "error" in r or r.get("machine_cpu_ms_per_message") is None:
            continue
        direct = _cell(results, r["scenario"], "direct")
        bound = None
        if direct and r["relay"] != "direct" and direct.get("machine_cpu_ms_per_message"):
            bound = _ratio(direct["machine_cpu_ms_per_message"], r["machine_cpu_ms_per_message"])
        rows.append([r["scenario"], r["relay"], _f(r.get("load_cpu_ms_per_message"), "{:.3f}"),
                     _f(r.get("sink_cpu_ms_per_message"), "{:.3f}"), _f(r.get("relay_cpu_ms_per_message"), "{:.3f}"),
                     _f(r.get("machine_cpu_ms_per_message"), "{:.3f}"), _f(r.get("machine_busy"), "{:.0%}"),
                     _f(bound, "{:.0%}")])
    return _render(head, rows)


def targets(results):
    """The issue's targets from summarize(), each as (text, measured, met) with met None when it could not be
    measured; where a scenario had several rounds, measured is their median, with the range and the rounds that
    met the target."""
    out = []

    def ratio(cell, key):
        return cell.get(key), cell.get(key + "_rounds")

    def meets(value, bound):
        return value <= -bound if bound < 0 else value >= bound

    short = _cell(results, "short_connections", "smarthost")
    if short:
        out.append(("end to end >= 60% of the ceiling (short connections)", *ratio(short, "e2e_vs_ceiling"), 0.60))
        out.append(("end to end >= 5x Postfix (short connections)", *ratio(short, "e2e_vs_postfix"), 5.0))
        out.append(("accept rate >= 5x Postfix (short connections)", *ratio(short, "accept_vs_postfix"), 5.0))
    # The issue measured its ceiling with smtp-source: the same targets with that generator.
    source = _cell(results, "smtp_source", "smarthost")
    if source:
        out.append(("end to end >= 60% of the ceiling (smtp-source)", *ratio(source, "e2e_vs_ceiling"), 0.60))
        out.append(("accept rate >= 5x Postfix (smtp-source)", *ratio(source, "accept_vs_postfix"), 5.0))
    per = _cell(results, "per_connection", "smarthost")
    if per:
        out.append(("end to end >= 60% of the ceiling (50 per connection)", *ratio(per, "e2e_vs_ceiling"), 0.60))
    http = _cell(results, "http_mailgun", "smarthost_http")
    if http:
        out.append(("HTTP provider end to end >= 80% of the SMTP upstream", *ratio(http, "e2e_vs_smtp_upstream"),
                    0.80))
    idle = next((r for r in results if "idle" in r), None)
    if idle:
        i = idle["idle"]
        out.append(("idle connection <= 32 KiB", i.get("rss_per_connection_kib"), None, -32.0))
        out.append(("p99 greeting latency < 50 ms with all idle connections held",
                    i.get("probe_greeting_ms", {}).get("p99"), None, -50.0))
    rendered = []
    for text, value, per_round, bound in out:
        met = None if value is None else meets(value, bound)
        entry = {"target": text, "measured": value, "met": met}
        if per_round and len(per_round) > 1:
            entry.update({"rounds": len(per_round), "range": [min(per_round), max(per_round)],
                          "rounds_met": sum(1 for v in per_round if meets(v, bound))})
        rendered.append(entry)
    return rendered


def targets_text(rendered):
    lines = []
    for t in rendered:
        v = t["measured"]
        shown = "-" if v is None else (f"{v:.0%}" if "%" in t["target"] else f"{v:.2f}")
        mark = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        if t.get("range"):
            fmt = "{:.0%}" if "%" in t["target"] else "{:.2f}"
            shown += (f" (median of {t['rounds']} rounds, " + fmt.format(t["range"][0]) + " to " +
                      fmt.format(t["range"][1]) + f"; met in {t['rounds_met']} of {t['rounds']})")
        lines.append(f"  {mark:8} {t['target']}: {shown}")
    return "\n".join(lines)


def write_json(path, document):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(document, f, indent=2, sort_keys=False)
        f.write("\n")


def timestamp():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
