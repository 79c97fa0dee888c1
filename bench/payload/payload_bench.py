#!/usr/bin/python3
"""Large messages through the provider APIs: the relay's peak memory while it sends them.

For each provider (a fake Mailgun, SendGrid, Postmark and SES from tests/support, answering at once): N messages of
S MB (a short text part and one base64 attachment) submitted at once from N SMTP sessions, then delivered through
the provider's API with 20 upstream connections. Reported: the relay's peak RSS (VmHWM) above its RSS before the
messages came, per message and as a multiple of the message size, and the time until every message was answered.
The budget ([performance] max_payload_memory) can be set to see deliveries take turns.

    bench/payload/payload_bench.py                                  # 5 x 8 MB and 20 x 8 MB, every provider
    bench/payload/payload_bench.py --messages 20 --size 20 --providers ses --budget 128MB
    BIN=/path/to/other/smarthost bench/payload/payload_bench.py     # another build, for a before/after

Needs a Release build with the bench targets (bench/run builds one into build-bench).
"""
import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import procs, smarthost  # noqa: E402

SUBMIT = """
import smtplib, sys, threading
body = sys.stdin.buffer.read()
errors = []
def one():
    try:
        c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=300)
        c.sendmail('sender@bench.example', ['rcpt@bench.example'], body)
        c.quit()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=one) for _ in range(int(sys.argv[2]))]
[t.start() for t in threads]
[t.join() for t in threads]
if errors: sys.exit('submission failed: ' + errors[0])
"""


def upstream(kind, endpoint):
    config = {
        "mailgun": 'api_key = "key-bench"\ndomain = "bench.example"\n',
        "sendgrid": 'api_key = "key-bench"\n',
        "postmark": 'server_token = "key-bench"\n',
        "ses": 'aws_access_key_id = "AKIDEXAMPLE"\n'
               'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"\nregion = "us-east-1"\n',
    }[kind]
    return (f'provider = "{kind}"\nname = "fake-{kind}"\n\n[config]\n{config}endpoint = "{endpoint}"\n\n'
            f'[options]\nconnection_pool_size = {smarthost.UPSTREAM_CONNECTIONS}\ntimeout = 300\n')


def message(size_mb):
    attachment = os.urandom(int(size_mb * (1 << 20) * 3 / 4 * 0.97))
    lines = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return (b"From: sender@bench.example\r\nTo: rcpt@bench.example\r\nSubject: large\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=BOUNDARY\r\n\r\n--BOUNDARY\r\nContent-Type: text/plain\r\n\r\n"
            b"See the attachment.\r\n--BOUNDARY\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=data.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            lines + b"--BOUNDARY--\r\n")


def run(binary, fake_binary, kind, count, size_mb, budget, workdir):
    port = procs.free_port()
    fake = procs.Process([fake_binary, "--provider", kind, "--port", str(port), "--api-key", "key-bench",
                          "--domain", "bench.example"], os.path.join(workdir, f"fake-{kind}.log"))
    if not procs.wait_port(port, 10, fake.alive):
        raise RuntimeError("fake_provider did not start")
    extra = 'max_message_size = "60MB"'
    relay = smarthost.Smarthost(binary, workdir, upstream(kind, f"http://127.0.0.1:{port}"), name=f"relay-{kind}",
                                server_extra=extra)
    if budget:
        with open(relay.config_path, "a") as f:
            f.write(f'\n[performance]\nmax_payload_memory = "{budget}"\n')
    relay.start()
    try:
        pid = relay.pids()[0]
        before = procs.memory_kib(pid)[0]
        body = message(size_mb)
        started = time.monotonic()
        subprocess.run(["/usr/bin/python3", "-c", SUBMIT, str(relay.port), str(count)], input=body, check=True)
        answered = 0
        for _ in range(6000):
            answered = sum(relay.metric(m) or 0 for m in ("smarthost_messages_delivered_total",
                                                          "smarthost_delivery_failures_total"))
            if answered >= count:
                break
            time.sleep(0.1)
        took = time.monotonic() - started
        peak = procs.memory_kib(pid)[2]
        delivered = relay.metric("smarthost_messages_delivered_total") or 0
        return {"provider": kind, "messages": count, "size_mb": round(len(body) / (1 << 20), 1),
                "delivered": int(delivered), "seconds": round(took, 1),
                "peak_above_idle_mib": round((peak - before) / 1024, 1),
                "per_message_x": round((peak - before) * 1024 / count / len(body), 2) if count else 0}
    finally:
        relay.stop()
        fake.stop(timeout=5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default="mailgun,sendgrid,postmark,ses")
    parser.add_argument("--messages", default="5,20", help="comma-separated counts, each run separately")
    parser.add_argument("--size", type=float, default=8.0, help="message size in MB (Postmark takes 10 MB at most)")
    parser.add_argument("--budget", default="", help='[performance] max_payload_memory, e.g. "128MB"')
    args = parser.parse_args()
    binary = os.environ.get("BIN", os.path.join(ROOT, "build-bench", "smarthost"))
    fake_binary = os.path.join(ROOT, "build-bench", "bench", "fake_providers", "fake_provider")
    print(f"{'provider':10} {'messages':>8} {'MB each':>8} {'delivered':>9} {'seconds':>8} "
          f"{'peak MiB':>9} {'x size':>7}")
    for kind in args.providers.split(","):
        for count in (int(c) for c in args.messages.split(",")):
            with tempfile.TemporaryDirectory(prefix="payload-", dir="/var/tmp") as workdir:
                r = run(binary, fake_binary, kind, count, args.size, args.budget, workdir)
            print(f"{r['provider']:10} {r['messages']:>8} {r['size_mb']:>8} {r['delivered']:>9} {r['seconds']:>8} "
                  f"{r['peak_above_idle_mib']:>9} {r['per_message_x']:>7}", flush=True)


if __name__ == "__main__":
    main()
