"""Shared harness for the end-to-end tests: real binaries from $BUILD/bin started on free
loopback ports, stopped by pid when the test ends, their stderr kept for the report."""
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("FNTRACE_ROOT", Path(__file__).resolve().parents[2]))
BUILD = ROOT / os.environ.get("BUILD", "build")
TESTDATA = ROOT / "tests" / "data"
GOLDEN = TESTDATA / "golden"
ASAN = os.environ.get("FNTRACE_ASAN") == "1"


def binary(name):
    """Path of a built program (build/bin/NAME or build/tests/progs/NAME)."""
    for p in (BUILD / "bin" / name, BUILD / "tests" / "progs" / name):
        if p.exists():
            return str(p)
    raise FileNotFoundError(f"{name} is not built in {BUILD}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class Daemon:
    """A started program listening on a loopback port; .url is its base URL."""

    def __init__(self, argv, port, log_path, env=None, cwd=None, host="127.0.0.1"):
        self.port = port
        self.url = f"http://{host}:{port}"
        self.log_path = Path(log_path)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=cwd)
        self.pid = self.proc.pid
        try:
            wait_port(port, host=host, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{argv[0]} did not start:\n{self.log()}")

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the process by its pid; returns its exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def daemon(tmp_path):
    """Factory: daemon(argv, port=None, env=None) -> Daemon, all stopped at teardown."""
    started = []

    def start(argv, port, env=None, cwd=None, name=None):
        d = Daemon(argv, port, tmp_path / f"{name or Path(argv[0]).name}-{len(started)}.log",
                   env=env, cwd=cwd)
        started.append(d)
        return d

    yield start
    for d in reversed(started):
        d.stop()


def http(method, url, body=None, headers=None, timeout=30):
    """One HTTP request; returns (status, headers, body bytes) and never raises on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def pb_fields(buf):
    """The top-level fields of a protobuf message: {field: [values]}, an int for a varint
    field and the bytes for a length-delimited one (nested messages, strings)."""
    out, i = {}, 0

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v
    while i < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.setdefault(field, []).append(varint())
        elif wire == 2:
            n = varint()
            out.setdefault(field, []).append(buf[i:i + n])
            i += n
        else:
            raise AssertionError(f"wire type {wire}")
    return out
