"""The scenarios of a run: the load shape of each and which relays it is measured on. `full` is what `make bench`
runs (a few minutes in all); `quick` divides the counts by ten to check the harness itself.

A scenario marked `repeat` takes a second or two per relay, so one measurement of it is a coin toss on a shared
machine: bench/run measures it in several rounds (each round every relay once, the rounds one after the other) and
reports the median round, with the spread.

Relays: "direct" is the load generator straight into smtp-sink (the ceiling), "postfix" and "smarthost" relay to
the same sink, "smarthost_http" relays to a fake Mailgun, "smarthost_idle" is the idle-connection measurement.
"""
from dataclasses import dataclass, field


@dataclass
class Scenario:
    name: str
    title: str
    relays: list
    messages: int = 5000
    sessions: int = 20
    per_connection: int = 1
    size: int = 4096
    recipients: int = 1
    warmup: int = 100
    generator: str = "smtp_load"  # or "smtp-source" (Postfix's tool, no latencies), or "idle"
    idle_connections: int = 0
    repeat: bool = False  # measured in every round (bench/run --rounds), not only in the first
    extra: dict = field(default_factory=dict)

    def load_args(self, messages=None):
        return ["--messages", str(messages or self.messages), "--sessions", str(self.sessions),
                "--per-connection", str(self.per_connection), "--size", str(self.size),
                "--recipients", str(self.recipients)]


SMTP_RELAYS = ["direct", "postfix", "smarthost"]


def full():
    return [
        Scenario("short_connections", "many short connections: 4 KiB, 1 message per connection, 20 sessions",
                 SMTP_RELAYS, repeat=True),
        Scenario("smtp_source", "the issue's measurement: smtp-source -s 20 -l 4096 -m 5000 (no latencies)",
                 SMTP_RELAYS, generator="smtp-source", repeat=True),
        Scenario("per_connection", "many messages per connection: 4 KiB, 50 per connection, 20 sessions",
                 SMTP_RELAYS, per_connection=50, repeat=True),
        Scenario("large_1mb", "large messages: 1 MiB, 1 per connection, 10 sessions", SMTP_RELAYS,
                 messages=300, sessions=10, size=1 << 20, warmup=20),
        Scenario("recipients_100", "100 recipients per message: 4 KiB, 20 sessions", SMTP_RELAYS,
                 messages=1000, recipients=100, warmup=20),
        Scenario("http_mailgun", "HTTP provider: fake Mailgun answering at once; 4 KiB, 1 per connection, 20 sessions",
                 ["smarthost_http"], repeat=True),
        Scenario("idle_10k", "10,000 concurrent idle connections: RSS per connection, greeting latency",
                 ["smarthost_idle"], generator="idle", idle_connections=10000, warmup=0),
    ]


def quick():
    out = []
    for s in full():
        s.messages = max(20, s.messages // 10)
        s.warmup = min(s.warmup, 20)
        s.idle_connections //= 10
        out.append(s)
    return out
