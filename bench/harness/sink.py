"""Postfix's smtp-sink as the final destination of every scenario: it accepts and discards mail, and its running
counters (-c) tell how many messages have arrived, which is how end-to-end rates are measured.
"""
import os
import re
import time

from . import procs

_COUNTER = re.compile(rb"mesg=(\d+)\r")  # a complete update ends in CR


class SmtpSink:
    def __init__(self, workdir, max_sessions=1024):
        self.port = procs.free_port()
        self.out_path = os.path.join(workdir, f"smtp-sink-{self.port}.out")
        # -c: counters on stdout; -m: concurrent sessions; -u: smtp-sink refuses to keep root privileges.
        argv = ["smtp-sink", "-c", "-m", str(max_sessions)]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += [f"127.0.0.1:{self.port}", "1024"]
        self.process = procs.Process(argv, self.out_path)
        if not procs.wait_port(self.port, 5, self.process.alive):
            self.stop()
            raise RuntimeError(f"smtp-sink did not listen on {self.port}")

    def count(self):
        """Messages received so far (each "." that ended a DATA)."""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 256))
                tail = f.read()
        except OSError:
            return 0
        found = _COUNTER.findall(tail)
        return int(found[-1]) if found else 0

    def wait_for(self, n, timeout, poll=0.01):
        """Waits until count() >= n. Returns (reached, monotonic time it was seen, count)."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.count()
            now = time.monotonic()
            if c >= n:
                return True, now, c
            if now >= deadline or not self.process.alive():
                return False, now, c
            time.sleep(poll)

    def stop(self):
        self.process.stop(timeout=3)
