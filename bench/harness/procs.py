"""Processes for the harness: start with a log file, stop by pid (TERM, then KILL), free ports, and memory
sampling of a process tree (RSS and PSS from /proc). It never signals a process it did not start or that is not a
descendant of one it started.
"""
import os
import resource
import signal
import socket
import subprocess
import threading
import time

# Every process started here, so that an interrupted run can still stop them (see stop_all).
_started = []


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout, alive=None):
    """True once 127.0.0.1:port accepts a connection; False after `timeout` s or when alive() turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def raise_fd_limit(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        if os.geteuid() == 0 and hard != resource.RLIM_INFINITY and hard < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        elif soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Process:
    """A child process in its own session, output to `log`."""

    def __init__(self, argv, log, env=None, cwd=None):
        self.argv = argv
        self.log_path = log
        self._log = open(log, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=full_env, cwd=cwd, start_new_session=True)
        self.pid = self.popen.pid
        _started.append(self)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit status."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        self._log.close()
        if self in _started:
            _started.remove(self)
        return self.popen.returncode


def stop_all():
    for p in list(_started):
        p.stop(timeout=5)


def run(argv, timeout, env=None, check=True):
    """Runs a command to completion; returns CompletedProcess (text). Raises on timeout, and on failure if `check`."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def children_of(pids):
    """The pids whose parent is in `pids`, recursively (a process tree), `pids` included."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in tree:
            continue
        tree.add(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(root_pids):
    """CPU time (user + system) used so far by the process trees under `root_pids`: each live process's own time
    plus that of its children already reaped (so a Postfix daemon that exited inside a measurement still counts,
    through its master). The difference of two readings is the CPU a relay spent in between."""
    roots = [p for p in root_pids if p]
    if not roots:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in children_of(roots):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            continue
    return total / ticks


def machine_cpu_seconds():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (busy = all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / ticks, total / ticks


def children_cpu_seconds():
    """CPU seconds of this process's reaped children (the load generators it ran and waited for)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def memory_kib(pid):
    """(rss, pss, hwm) in KiB for one process; zeros when it is gone."""
    rss = hwm = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except (OSError, ValueError):
        pass
    return rss, pss, hwm


class MemorySampler:
    """Samples the summed RSS and PSS of the process trees under root_pids() every `interval` s, keeping the peaks.
    root_pids is a callable because Postfix's master pid is known only after start."""

    def __init__(self, root_pids, interval=0.25):
        self.root_pids = root_pids
        self.interval = interval
        self.peak_rss_kib = 0
        self.peak_pss_kib = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def sample(self):
        roots = [p for p in self.root_pids() if p]
        if not roots:
            return
        tree = children_of(roots)
        rss = pss = 0
        for pid in tree:
            r, p, _ = memory_kib(pid)
            rss += r
            pss += p
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_pss_kib = max(self.peak_pss_kib, pss)
        self.peak_processes = max(self.peak_processes, len(tree))

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        return self
