"""docker-compose.yml at the top, brought up by Debian's docker-compose (1.29) against the
session's dockerd: collector, flamescope and the traced example function (fntrace-perf
profile, non-root, no capabilities) come up, requests to the function produce traces,
flamescope lists them and draws the function's frames; `down -v` removes it all."""
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest

from conftest import ROOT, free_port, wait_port
from polling import wait_until
from dockerd import COMPOSE
from handler_common import jbody, request
from test_handler_tracing import frames


@pytest.fixture
def compose(docker, fntrace_image, perf_profile):
    assert COMPOSE, "docker-compose not found: install Debian's docker-compose (make deps)"
    ports = {k: free_port() for k in ("COLLECTOR", "FLAMESCOPE", "FUNCTION")}
    env = dict(docker.env, FNTRACE_IMAGE=fntrace_image, FNTRACE_WINDOW="1s",
               COMPOSE_PROJECT_NAME="fntrace-test-" + uuid.uuid4().hex[:8])
    env.update({f"FNTRACE_{k}_PORT": str(v) for k, v in ports.items()})
    base = [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--project-directory", str(ROOT)]

    def run(*args, timeout=300):
        p = subprocess.run(base + list(args), env=env, cwd=ROOT, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.returncode, p.stdout.decode(errors="replace")

    rc, out = run("up", "-d", "--no-build")
    try:
        assert rc == 0, out
        yield run, ports
    finally:
        rc_logs, logs = run("logs", "--no-color")
        print(logs[-6000:])
        run("down", "-v", "--timeout", "10")


def test_compose_stack_traces_a_function_that_flamescope_lists(docker, compose):
    run, ports = compose
    for p in ports.values():
        wait_port(p, timeout=30)
    fn = f"http://127.0.0.1:{ports['FUNCTION']}"
    fs = f"http://127.0.0.1:{ports['FLAMESCOPE']}"
    stop = time.monotonic() + 3
    while time.monotonic() < stop:
        st, _, body = request(fn + "/?n=30")
        assert (st, jbody(body)) == (200, {"n": 30, "fibonacci": 832040})

    def drawn():
        """Frames flamescope draws for the function's traces, once one has samples."""
        st, _, body = request(fs + "/profile/")
        assert st == 200
        seen = set()
        for p in jbody(body):
            if p["filename"].startswith("fibonacci/"):
                st, _, body = request(f"{fs}/flamegraph/?filename={quote(p['filename'])}&type=perf")
                assert st == 200
                frames(jbody(body), seen)
        return seen if any(n.startswith("fibonacci") for n in seen) else None
    seen = wait_until(drawn, timeout=30)
    assert seen, run("logs", "--no-color")[1][-4000:]
    # the function container: the profile's user, no capabilities, the fntrace-perf filter
    rc, out = run("ps", "-q", "function")
    cid = out.strip().splitlines()[-1]
    status = docker.docker("exec", cid, "cat", "/proc/1/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split()[0] == "10001"
    assert int(fields["CapEff"].strip(), 16) == 0
    assert fields["Seccomp"].strip() == "2"
    assert fields["NoNewPrivs"].strip() == "1"
