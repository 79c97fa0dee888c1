"""Postfix as a smart host for the comparison: its own config directory, queue and data directory under the run's
temporary directory, smtpd on a spare loopback port, everything relayed to the sink. It never reads or writes
/etc/postfix's main.cf or master.cf, never listens on port 25, and is stopped by its master's pid.

Deliberate settings (the rest are Postfix 3.7 defaults, so the queue is fsynced before each 250):
- relayhost = the sink; no local delivery, no DNS (a bracketed IP literal next hop);
- smtp_destination_recipient_limit = 100, so a 100-recipient message goes out as one transaction, as smarthost
  sends it (the default 50 would double the sink's message count);
- default_destination_concurrency_limit stays 20, matching smarthost's 20 pooled upstream connections.
"""
import os
import shutil
import subprocess
import time

from . import procs

POSTFIX = "/usr/sbin/postfix"
DAEMON_DIR = "/usr/lib/postfix/sbin"


def available():
    return os.path.exists(POSTFIX) and os.path.isdir(DAEMON_DIR)


def version():
    try:
        out = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"], capture_output=True, text=True,
                             timeout=10, env={**os.environ, "MAIL_CONFIG": "/nonexistent"})
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


MASTER_CF = """\
# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {config}
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = {daemon}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.example
mydomain = bench.example
myorigin = $myhostname
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost = [127.0.0.1]:{sink_port}
smtp_destination_recipient_limit = 100
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
message_size_limit = 52428800
maillog_file_prefixes = {root}
maillog_file = {maillog}
"""


class Postfix:
    def __init__(self, workdir, sink_port, port=None):
        if not available():
            raise RuntimeError("postfix is not installed (scripts/install-deps --bench installs it)")
        self.root = os.path.join(workdir, "postfix")
        self.config = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        self.data = os.path.join(self.root, "data")
        self.maillog = os.path.join(self.root, "maillog")
        self.port = port or procs.free_port()
        self.master_pid = 0
        for d in (self.config, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        # Postfix's daemons run as the postfix user: they must reach the queue below the temporary directory.
        for d in (workdir, self.root):
            os.chmod(d, 0o755)
        shutil.chown(self.data, "postfix")
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(config=self.config, queue=self.queue, data=self.data, daemon=DAEMON_DIR,
                                   sink_port=sink_port, maillog=self.maillog, root=self.root))
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))

    def _postfix(self, *args, timeout=60, check=True):
        return procs.run([POSTFIX, "-c", self.config, *args], timeout=timeout, check=check,
                         env={"MAIL_CONFIG": self.config})

    def start(self):
        self._postfix("check")  # creates the queue folders with their owners
        self._postfix("start")
        pid_file = os.path.join(self.queue, "pid", "master.pid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.master_pid:
            try:
                with open(pid_file) as f:
                    self.master_pid = int(f.read().strip() or 0)
            except (OSError, ValueError):
                time.sleep(0.05)
        if not self.master_pid or not procs.wait_port(self.port, 10):
            self.stop()
            raise RuntimeError(f"postfix did not start; see {self.maillog}")
        return self

    def pids(self):
        return [self.master_pid] if self.master_pid else []

    def stop(self):
        """postfix stop, then SIGKILL for whatever of this master's tree is left after 10 s."""
        if not self.master_pid:
            self._postfix("stop", check=False, timeout=30)
            return
        tree = procs.children_of([self.master_pid])
        self._postfix("stop", check=False, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _exists(self.master_pid):
            time.sleep(0.1)
        for pid in tree | procs.children_of([self.master_pid]):
            if _exists(pid) and _is_postfix(pid):
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        self.master_pid = 0


def _exists(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _is_postfix(pid):
    try:
        with open(f"/proc/{pid}/exe", "rb"):
            pass
        return os.readlink(f"/proc/{pid}/exe").startswith(DAEMON_DIR)
    except OSError:
        return False
