"""fnhandler-examples as an OpenFaaS function (the watchdog contract, without a watchdog)
and in local mode: health and readiness with the lock file, X-Duration-Seconds, the
exec/read/write timeouts, max_inflight → 429, drain on SIGTERM, bad input, and blocking
functions that do not stall the others.  Traffic goes to 127.0.0.1 only (--listen)."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import binary, free_port
from handler_common import PI_50, jbody, request, start_examples, wait_until


def openfaas(daemon, tmp_path, **env):
    """The app in OpenFaaS mode: port from the environment (as OpenFaaS sets it), its own
    lock file, bound to 127.0.0.1 for the test."""
    port = free_port()
    full = {"port": str(port), "FNHANDLER_LOCK_FILE": str(tmp_path / "lock"),
            "healthcheck_interval": "0s"}
    full.update({k: str(v) for k, v in env.items()})
    d = start_examples(daemon, ["--listen", "127.0.0.1"], env=full, port=port, name="openfaas")
    d.lock = tmp_path / "lock"
    return d


def background(fn, *args):
    out = {}

    def run():
        try:
            out["result"] = fn(*args)
        except Exception as e:          # reported by the test that reads it
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_health_follows_the_lock_file(daemon, tmp_path):
    app = openfaas(daemon, tmp_path)
    assert wait_until(lambda: app.lock.exists())
    assert request(app.url + "/_/health")[0] == 200
    assert request(app.url + "/_/ready")[0] == 200
    app.lock.unlink()
    st, _, body = request(app.url + "/_/health")
    assert st == 503 and jbody(body)["error"] == "not ready"
    assert request(app.url + "/_/ready")[0] == 503
    app.lock.write_text("")
    assert request(app.url + "/_/health")[0] == 200


def test_functions_duration_header_and_default_route(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, FNHANDLER_FUNCTION="hello")
    st, hd, body = request(app.url + "/", "POST", "Faas")
    assert (st, body) == (200, b"Hello from C, Faas!")
    assert float(hd["x-duration-seconds"]) >= 0
    st, hd, body = request(app.url + "/pi?digits=50")
    assert (st, jbody(body)["pi"]) == (200, PI_50)
    st, _, body = request(app.url + "/fibonacci", "POST", {"n": 25})
    assert jbody(body) == {"n": 25, "fibonacci": 75025}
    st, _, body = request(app.url + "/circle-area?radius=1")
    assert jbody(body)["area"] == pytest.approx(3.141592653589793)
    st, hd, body = request(app.url + "/queue-echo", "POST", {"Data": {"msg": [1, 2]}, "Metadata": {}})
    assert st == 200 and jbody(body)["Outputs"] == {"output": [1, 2]}
    st, hd, _ = request(app.url + "/hello", headers={"X-Call-Id": "call-123"})
    assert hd["x-invocation-id"] == "call-123"


def raw_get(port, path, header_lines):
    """One GET with these header lines as written (repeats and any case kept, which
    urllib would merge); (status, reply headers with lower-case names)."""
    extra = "".join(h + "\r\n" for h in header_lines)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    return int(lines[0].split()[1]), {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}


def test_invocation_id_duration_and_traceparent_from_the_request(daemon, tmp_path):
    """The reply's X-Invocation-Id: the first X-Azure-Functions-InvocationId, else the first
    X-Call-Id (names in any case), else a generated one, new for every call; ids over 64
    bytes are cut.  X-Duration-Seconds in seconds with microseconds.  A malformed
    traceparent is noticed and ignored, a W3C one taken."""
    app = openfaas(daemon, tmp_path, FNHANDLER_FUNCTION="hello", FNTRACE_LOG="debug")
    assert raw_get(app.port, "/hello", ["x-call-id: c1", "X-Call-Id: c2"])[1]["x-invocation-id"] == "c1"
    _, hd = raw_get(app.port, "/hello", ["X-Call-Id: c1", "x-azure-functions-invocationid: az1",
                                         "X-Azure-Functions-InvocationId: az2"])
    assert hd["x-invocation-id"] == "az1"
    _, hd = raw_get(app.port, "/hello", ["X-Azure-Functions-InvocationId: ", "X-Call-Id: c3"])
    assert hd["x-invocation-id"] == "c3"
    assert raw_get(app.port, "/hello", ["X-Call-Id: " + "i" * 100])[1]["x-invocation-id"] == "i" * 64
    gen = [raw_get(app.port, "/hello", [])[1] for _ in range(3)]
    m = [re.fullmatch(r"([0-9a-f]+-[0-9a-f]+)-(\d+)", h["x-invocation-id"]) for h in gen]
    assert all(m) and len({x.group(1) for x in m}) == 1, gen
    seq = [int(x.group(2)) for x in m]
    assert seq == sorted(seq) and len(set(seq)) == 3, gen
    assert all(re.fullmatch(r"\d+\.\d{6}", h["x-duration-seconds"]) for h in gen), gen
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert raw_get(app.port, "/hello", ["Traceparent: " + good])[0] == 200
    assert "traceparent ignored" not in app.log()
    assert raw_get(app.port, "/hello", ["traceparent: not-a-trace"])[0] == 200
    assert wait_until(lambda: "traceparent ignored" in app.log(), timeout=5)


def test_without_a_default_function_root_lists_functions(daemon, tmp_path):
    app = openfaas(daemon, tmp_path)
    st, _, body = request(app.url + "/")
    assert st == 404
    assert set(jbody(body)["functions"]) == {"hello", "circle-area", "pi", "fibonacci", "queue-echo",
                                             "timer-tick", "queue-to-blob", "blob-size",
                                             "eventhub-batch", "eventgrid-echo"}


def test_exec_timeout_answers_504_and_keeps_serving(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, exec_timeout="200ms")
    t0 = time.monotonic()
    st, hd, body = request(app.url + "/fibonacci?n=42")
    assert st == 504 and "did not finish within" in jbody(body)["error"]
    assert time.monotonic() - t0 < 15
    assert request(app.url + "/hello")[0] == 200
    assert "function timed out" in app.log()


def test_write_timeout_bounds_the_call_too(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, exec_timeout="0", write_timeout="300ms")
    st, _, _ = request(app.url + "/fibonacci?n=42")
    assert st == 504


def test_read_timeout_closes_a_slow_client(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, read_timeout="1s")
    with socket.create_connection(("127.0.0.1", app.port), timeout=20) as s:
        s.sendall(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        t0 = time.monotonic()
        data = s.recv(4096)             # the server gives up on the missing body
        assert time.monotonic() - t0 < 15
        assert b"Hello" not in data
    assert request(app.url + "/hello")[0] == 200


def test_max_inflight_answers_429(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, max_inflight="1", exec_timeout="60s")
    slow, out = background(request, app.url + "/fibonacci?n=41")
    # /_/ready turns 429 while the slow call holds the only slot (and takes none itself)
    at_capacity = wait_until(lambda: request(app.url + "/_/ready")[0] == 429 or not slow.is_alive(),
                             timeout=60)
    assert at_capacity and slow.is_alive(), "the slow call ended before it was seen running"
    st, _, body = request(app.url + "/hello")
    assert st == 429 and "max_inflight" in jbody(body)["error"]
    slow.join(60)
    assert out["result"][0] == 200
    assert request(app.url + "/hello")[0] == 200
    assert request(app.url + "/_/ready")[0] == 200


def test_blocking_functions_do_not_stall_others(daemon, tmp_path):
    app = start_examples(daemon, ["--port", "{port}"])
    slow, out = background(request, app.url + "/pi?digits=8000")
    time.sleep(0.2)
    t0 = time.monotonic()
    for _ in range(20):
        assert request(app.url + "/hello?name=fast")[0] == 200
    fast = time.monotonic() - t0
    slow.join(120)
    assert out["result"][0] == 200
    assert jbody(out["result"][2])["pi"].startswith(PI_50)
    assert slow is not None and fast < 10


def test_sigterm_drains(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, healthcheck_interval="1s", write_timeout="30s",
                   exec_timeout="30s")
    assert wait_until(lambda: app.lock.exists())
    slow, out = background(request, app.url + "/fibonacci?n=38")
    time.sleep(0.2)
    os.kill(app.pid, signal.SIGTERM)
    # during healthcheck_interval: unhealthy, lock gone, still answering
    assert wait_until(lambda: not app.lock.exists(), timeout=10)
    st, _, _ = request(app.url + "/_/health")
    assert st == 503
    slow.join(60)
    assert out.get("result", (None,))[0] == 200, out
    assert app.proc.wait(timeout=60) == 0
    log = app.log()
    assert "draining" in log and "unfinished_requests=0" in log


def test_bad_input_never_crashes(daemon, tmp_path):
    app = openfaas(daemon, tmp_path, FNHANDLER_MAX_BODY="1024")
    assert request(app.url + "/hello", "POST", b'{"name": "x', {"Content-Type": "application/json"})[0] == 400
    assert request(app.url + "/hello", "POST", "x" * 5000)[0] == 413
    assert request(app.url + "/circle-area", "POST", {"radius": None})[0] == 400
    assert request(app.url + "/circle-area", "POST", {"radius": True})[0] == 400
    assert request(app.url + "/hello?name=" + "n" * 300)[0] == 400
    assert request(app.url + "/queue-echo", "POST", "not a payload")[0] == 400
    assert request(app.url + "/nothing")[0] == 404
    for junk in (b"\x00\xff\r\n\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /hello HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            try:
                s.recv(4096)
            except OSError:
                pass
    assert app.proc.poll() is None
    st, _, body = request(app.url + "/hello?name=ok")
    assert (st, body) == (200, b"Hello from C, ok!")


def test_bad_settings_are_refused(tmp_path):
    r = subprocess.run([binary("fnhandler-examples"), "--listen", "127.0.0.1"],
                       env=dict(os.environ, port="0", exec_timeout="soon",
                                FNHANDLER_LOCK_FILE=str(tmp_path / "l")),
                       capture_output=True, timeout=30)
    assert r.returncode == 2 and b"exec_timeout=soon is not a duration" in r.stderr
