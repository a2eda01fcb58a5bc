"""End to end: fntrace's upload path against a real HTTP server on loopback that is down
at first and comes up later.  Every trace must arrive exactly once, none may be lost,
and the spool must be empty at the end."""
import gzip
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import binary, free_port  # noqa: E402

FNTRACE = binary("fntrace")
HOTSPOTS = binary("hotspots")

# A collector stand-in: stores each POST body (gunzipped when Content-Encoding says
# gzip) under DIR/<n>-<X-name>.perf and answers 201, like fntrace-collector.
SERVER = textwrap.dedent("""
    import gzip, http.server, itertools, os, sys
    port, out = int(sys.argv[1]), sys.argv[2]
    seq = itertools.count()
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            name = self.headers.get("X-name", "")
            with open(os.path.join(out, f"{next(seq):04d}-{name}.perf"), "wb") as f:
                f.write(body)
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"id": "x"}')
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


def start_server(daemon, tmp_path, port):
    recv = tmp_path / "received"
    recv.mkdir(exist_ok=True)
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    daemon(["/usr/bin/python3", str(script), str(port), str(recv)], port, name="collector")
    return recv


def test_collector_down_then_up(tmp_path, daemon):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    spool = tmp_path / "spool"
    kept = []
    # collector down: both traces end up in the spool, exit status says so
    for i in range(2):
        out = tmp_path / f"t{i}.perf"
        r = subprocess.run([FNTRACE, "record", "-o", str(out), "--upload", url, "--name", "fib",
                            "--spool", str(spool), "--retries", "2", "--", HOTSPOTS, "1", "0.2"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 75, r.stderr
        assert "upload deferred" in r.stderr
        kept.append(out.read_bytes())
    assert len([p for p in spool.iterdir() if not p.name.startswith(".")]) == 2
    # `fntrace upload` with the collector still down: nothing lost, still 75
    r = subprocess.run([FNTRACE, "upload", "--spool", str(spool), url], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 75, r.stderr

    recv = start_server(daemon, tmp_path, port)
    # the next recording drains the spool (oldest first) and then sends its own trace
    out = tmp_path / "t2.perf"
    r = subprocess.run([FNTRACE, "record", "-o", str(out), "--upload", url, "--name", "fib",
                        "--spool", str(spool), "--", HOTSPOTS, "1", "0.2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    kept.append(out.read_bytes())
    got = sorted(recv.iterdir())
    assert [p.read_bytes() for p in got] == kept        # each once, in order
    assert all(p.name.endswith("-fib.perf") for p in got)
    assert not list(spool.iterdir())


def test_upload_waits_for_a_collector_that_comes_up(tmp_path, daemon):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    trace = tmp_path / "a.perf"
    r = subprocess.run([FNTRACE, "record", "-o", str(trace), "--", HOTSPOTS, "1", "0.2"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0
    # retries with backoff (0.5 s, 1 s, 2 s, …): the collector appears after ~1 s
    p = subprocess.Popen([FNTRACE, "upload", "--name", "late", "--retries", "6", url, str(trace)],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    recv = start_server(daemon, tmp_path, port)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    got = list(recv.iterdir())
    assert len(got) == 1 and got[0].read_bytes() == trace.read_bytes()


def test_upload_without_spool_fails_loudly(tmp_path):
    trace = tmp_path / "a.perf"
    trace.write_text("# ========\n#\n")
    r = subprocess.run([FNTRACE, "upload", "--name", "x", "--retries", "1",
                        f"http://127.0.0.1:{free_port()}/", str(trace)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 4 and "upload failed" in r.stderr
