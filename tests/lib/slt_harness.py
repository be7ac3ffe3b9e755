"""Shared pieces for integration tests: temp dirs, free ports, a private redis-server,
starting and killing the project's binaries. Standard library only (plus msgpack where a
test needs raw frames)."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("SLT_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("SLT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
REAL = os.environ.get("SLT_REAL_DATA", os.path.join(SRC, "../shared/data/real"))


def binary(name):
    return os.path.join(BIN, name)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached after {timeout}s (last: {last!r})")


class TempDir:
    def __init__(self, prefix="slt-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def write(self, name, text, mode="w"):
        p = self.join(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, mode) as f:
            f.write(text)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


_live_procs = []


def _kill_leftovers():
    """A failing test must not leave agents, aggregators or redis-servers behind."""
    for proc in _live_procs:
        if proc.p.poll() is None:
            try:
                proc.p.kill()
                proc.p.wait(timeout=5)
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


atexit.register(_kill_leftovers)


class Proc:
    """A child process whose output goes to a file in the test's temp dir."""

    def __init__(self, argv, logpath, env=None):
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  env=env, start_new_session=True)
        _live_procs.append(self)

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def term(self, timeout=15):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
            raise

    def output(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Redis:
    """A private redis-server on a free loopback port in its own directory."""

    def __init__(self, tmp, aof=False, port=None):
        self.tmp = tmp
        self.port = port or free_port()
        self.dir = tmp.join(f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.aof = aof
        self.proc = None
        self.start()

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.aof else "no", "--appendfsync", "everysec"]
        self.proc = Proc(argv, os.path.join(self.dir, "redis.log"))
        wait_port(self.port)
        wait_for(lambda: self.cli("PING") == "PONG", what="redis PING")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--no-raw"] + list(args),
                           capture_output=True, text=True)
        out = r.stdout.strip()
        if out.startswith('"') and out.endswith('"'):
            out = out[1:-1]
        return out

    def raw(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--raw"] + list(args),
                           capture_output=True, text=True)
        return r.stdout

    def kill9(self):
        self.proc.kill9()

    def stop(self):
        if self.proc and self.proc.alive():
            self.proc.term()


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


class TestCase:
    """Minimal runner: each method named test_* or it_* runs; prints 'N passed, N failed'.
    SLT_ONLY=REGEX runs only the methods whose name it matches (to repeat one test)."""

    def run_all(self):
        names = [n for n in dir(self) if n.startswith(("test_", "it_"))]
        if os.environ.get("SLT_ONLY"):
            import re
            names = [n for n in names if re.search(os.environ["SLT_ONLY"], n)]
        passed = failed = 0
        for n in sorted(names):
            t0 = time.time()
            try:
                getattr(self, n)()
                passed += 1
                print(f"ok   {n} ({time.time() - t0:.1f}s)", flush=True)
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                import traceback
                traceback.print_exc()
                print(f"FAIL {n}: {e}", flush=True)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


def check_equal(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
