"""smarthost under test: a generated config (loopback listener on a spare port, queue under the run's temporary
directory, fsync on as always), started with `smarthost serve` and stopped by pid. Upstream: the sink over SMTP,
or a fake Mailgun (tests/support's fake_provider) for the HTTP scenario. Counts deliveries from /metrics.
"""
import os
import re
import urllib.request

from . import procs

# Matched to Postfix's defaults for one destination (default_destination_concurrency_limit = 20).
UPSTREAM_CONNECTIONS = 20


def smtp_upstream(sink_port):
    return f"""provider = "smtp"
name = "sink"

[config]
host = "127.0.0.1"
port = {sink_port}
timeout = 30

[options]
connection_pool_size = {UPSTREAM_CONNECTIONS}
"""


def mailgun_upstream(endpoint):
    return f"""provider = "mailgun"
name = "fake-mailgun"

[config]
api_key = "key-bench"
domain = "bench.example"
endpoint = "{endpoint}"

[options]
connection_pool_size = {UPSTREAM_CONNECTIONS}
"""


class Smarthost:
    def __init__(self, binary, workdir, upstream, name="smarthost", server_extra="", log_level="info"):
        self.binary = binary
        self.root = os.path.join(workdir, name)
        os.makedirs(self.root, exist_ok=True)
        self.port = procs.free_port()
        self.metrics_port = procs.free_port()
        self.config_path = os.path.join(self.root, "smarthost.toml")
        self.log_path = os.path.join(self.root, "smarthost.log")
        self.process = None
        config = upstream + f"""
[server]
listen = ["127.0.0.1:{self.port}"]
hostname = "smarthost.bench.example"
max_connections = 20000
max_connections_per_ip = 20000
{server_extra}

[queue]
dir = "{os.path.join(self.root, 'queue')}"
max_parallel_deliveries = {UPSTREAM_CONNECTIONS}

[performance.connection_pool]
max_connections = {UPSTREAM_CONNECTIONS}
max_idle_connections = {UPSTREAM_CONNECTIONS}

[metrics]
listen = "127.0.0.1:{self.metrics_port}"

[logging]
level = "{log_level}"
"""
        with open(self.config_path, "w") as f:
            f.write(config)

    def start(self, wrapper=()):
        argv = [*wrapper, self.binary, "serve", "--config", self.config_path]
        self.process = procs.Process(argv, self.log_path)
        if not procs.wait_port(self.port, 60 if wrapper else 15, self.process.alive):
            self.stop()
            raise RuntimeError(f"smarthost did not start; see {self.log_path}")
        return self

    def pids(self):
        return [self.process.pid] if self.process and self.process.alive() else []

    def metric(self, name):
        """The sum of every sample of a metric (all label sets); None when /metrics cannot be read."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        total = 0.0
        pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.eE+-]+)$", re.M)
        for m in pattern.finditer(text):
            total += float(m.group(2))
        return total

    def stop(self):
        if self.process:
            self.process.stop(timeout=30)


class FakeMailgun:
    """fake_provider --provider mailgun: checks each request like Mailgun would and answers 200 at once."""

    def __init__(self, binary, workdir):
        self.log_path = os.path.join(workdir, "fake-mailgun.log")
        self.port = procs.free_port()
        argv = [binary, "--provider", "mailgun", "--port", str(self.port), "--api-key", "key-bench",
                "--domain", "bench.example"]
        self.process = procs.Process(argv, self.log_path)
        if not procs.wait_port(self.port, 10, self.process.alive):
            self.stop()
            raise RuntimeError(f"fake_provider did not start; see {self.log_path}")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def pids(self):
        return [self.process.pid] if self.process.alive() else []

    def stop(self):
        self.process.stop(timeout=5)
