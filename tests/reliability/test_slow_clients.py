"""Slow clients against all three servers (issue: slowloris).  1,500 connections from
eight loopback source addresses each drip one header byte a second; meanwhile real
uploads, queries and health checks must be answered within a second, and a dripping
client must be closed once its header deadline passes, though it is never idle.
Bounded: about 10 s per server."""
import time

import pytest

from collector_helpers import TRACE, start_collector
from conftest import TESTDATA, binary, free_port, http
from handler_common import start_examples
from slowclients import SlowClients

SLOW = 1500


def timed(method, url, body=None, headers=None):
    t = time.monotonic()
    status, _, _ = http(method, url, body, headers, timeout=1.0)
    return status, time.monotonic() - t


def hold_while(slow, checks, seconds):
    """Runs every check (method, url, body, headers, expected status) each half second
    for `seconds` while the slow clients drip; every answer must come within 1 s."""
    end = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < end:
        for method, url, body, headers, want in checks:
            status, dt = timed(method, url, body, headers)
            assert status == want and dt < 1.0, f"{method} {url}: {status} after {dt:.2f}s"
        rounds += 1
        time.sleep(0.5)
    return rounds


@pytest.fixture
def slow():
    made = []

    def start(port, n=SLOW):
        s = SlowClients(port, n)
        made.append(s)
        time.sleep(2.0)            # all connected and dripping
        return s

    yield start
    for s in made:
        s.stop()


def test_collector_serves_uploads_and_health_among_slow_clients(daemon, tmp_path, slow):
    c = start_collector(daemon, tmp_path / "store")
    s = slow(c.port)
    body = TRACE.read_bytes()
    hold_while(s, [
        ("GET", c.url + "/healthz", None, None, 200),
        ("POST", c.url + "/", body, {"X-name": "among-slow"}, 201),
        ("GET", c.url + "/api/v1/traces", None, None, 200),
    ], 4.0)
    # the header deadline (10 s by default) closes drippers that are never idle
    deadline = time.monotonic() + 12.0
    while time.monotonic() < deadline and s.closed() < SLOW:
        time.sleep(0.2)
    assert s.closed() == SLOW, f"only {s.closed()} of {SLOW} slow clients were closed"


def test_flamescope_serves_profiles_among_slow_clients(daemon, tmp_path, slow):
    d = tmp_path / "profiles"
    d.mkdir()
    (d / "perf-threads.stacks").write_bytes((TESTDATA / "perf-threads.stacks").read_bytes())
    port = free_port()
    f = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d)], port)
    s = slow(port)
    rounds = hold_while(s, [
        ("GET", f.url + "/profile/", None, None, 200),
        ("GET", f.url + "/api/v1/stats?filename=perf-threads.stacks", None, None, 200),
    ], 4.0)
    assert rounds >= 3


def test_handler_health_among_slow_clients_and_read_timeout(daemon, slow):
    app = start_examples(daemon, ["--port", "{port}"], env={"read_timeout": "3s"})
    s = slow(app.port)
    hold_while(s, [
        ("GET", app.url + "/_/health", None, None, 200),
        ("GET", app.url + "/hello?name=x", None, None, 200),
    ], 3.0)
    # docs/handler.md: read_timeout closes slow clients, also ones that are never silent
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline and s.closed() < SLOW:
        time.sleep(0.2)
    assert s.closed() == SLOW, f"only {s.closed()} of {SLOW} slow clients were closed"


def drip_body(port, head, seconds):
    """Sends head, then one body byte every 0.5 s; returns the seconds until the server
    closed the connection (None when it did not within `seconds`)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(head)
    t = time.monotonic()
    try:
        while time.monotonic() - t < seconds:
            s.sendall(b"x")
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        return time.monotonic() - t
    finally:
        s.close()
    return None


def test_slow_body_is_closed_and_leaves_nothing(daemon, tmp_path):
    from collector_helpers import tmp_files
    store = tmp_path / "store"
    c = start_collector(daemon, store)
    head = (b"POST / HTTP/1.1\r\nHost: x\r\nX-name: drip\r\nContent-Length: 1000000\r\n\r\n"
            + TRACE.read_bytes()[:4096])
    took = drip_body(c.port, head, 20.0)
    assert took is not None and took < 13.0, took      # header deadline 10 s, then the rate
    deadline = time.monotonic() + 5
    while tmp_files(store) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tmp_files(store) == []
    assert http("GET", c.url + "/healthz", timeout=1)[0] == 200
