"""The OpenFaaS template's image (handler/templates/openfaas/c-fntrace), built the way
faas-cli builds it (template + function/), run for real in Docker as its non-root user:

- under Docker's default seccomp profile the function serves, reports healthy, and the
  perf sampler logs its EPERM once (and uploads nothing);
- under seccomp/profiles/fntrace-perf.json the traces reach a collector on the host
  (loopback) and carry the function's own frames (handle -> fib) and invocations;
- with --cap-add PERFMON under the default profile: what this Docker does (see README);
- the image's default sampler: what works under OpenFaaS CE (the default profile)."""
import re
import time
from urllib.parse import quote

import pytest

from conftest import free_port, wait_port
from polling import wait_until
from handler_common import jbody, request, start_trace_stack
from test_handler_tracing import frames, trace_text

NAME = "c-fntrace"
UID = "10001"
EPERM_LINE = re.compile(r"tracing off: cannot sample this process")
INV_RE = re.compile(r"^# fntrace invocation : .*fn=handle\b", re.M)


@pytest.fixture
def stack(daemon, tmp_path):
    """fntrace-collector and fntrace-flamescope on the host, on loopback."""
    traces = tmp_path / "traces"
    traces.mkdir()
    coll, fs = start_trace_stack(daemon, traces)
    return traces, coll, fs


def start_function(containers, image, coll, opts=(), env=None):
    """The function container on the host network, listening on 127.0.0.1 only; returns
    (container id, base URL)."""
    port = free_port()
    full = {"port": str(port), "FNTRACE_COLLECTOR": coll.url + "/", "FNTRACE_NAME": NAME,
            "FNTRACE_WINDOW": "1s", "FNTRACE_LOG": "info"}
    full.update(env or {})
    cid = containers.run(image, "/home/app/handler", "--listen", "127.0.0.1", opts=opts, env=full)
    try:
        wait_port(port, timeout=20)
    except TimeoutError:
        pytest.fail(f"the function did not listen:\n{containers.logs(cid)}")
    return cid, f"http://127.0.0.1:{port}"


def serve_some(url, n=5):
    """Requests that work whatever the tracing; returns when all answered right."""
    st, _, body = request(url + "/?name=container")
    assert (st, body) == (200, b"Hello, container!\n")
    st, _, body = request(url + "/?n=abc")
    assert st == 400 and "whole number" in jbody(body)["error"]
    for _ in range(n):
        st, _, body = request(url + "/?n=30")
        assert (st, body) == (200, b"Hello, World! fib(30) = 832040\n")


def process_status(docker, cid):
    """uid and effective capabilities of the container's process (the function)."""
    st = docker.docker("exec", cid, "cat", "/proc/1/status")
    uid = next(line.split()[1] for line in st.splitlines() if line.startswith("Uid:"))
    eff = next(line.split()[1] for line in st.splitlines() if line.startswith("CapEff:"))
    return uid, int(eff, 16)


def assert_eperm_once(containers, cid, traces):
    time.sleep(1.5)                      # more than a window: nothing may be uploaded
    log = containers.logs(cid)
    off = [line for line in log.splitlines() if EPERM_LINE.search(line)]
    assert len(off) == 1, log
    assert "perf_event_open" in off[0], off[0]
    assert "Operation not permitted" in off[0] or "EPERM" in off[0], off[0]
    assert "tracing on" not in log
    assert not (traces / NAME).exists()


def assert_traced(containers, cid, url, traces, fs):
    """Load on the function; its traces reach the collector with handle/fib frames and the
    invocations, and flamescope lists them and draws those frames."""
    stop = time.monotonic() + 3
    while time.monotonic() < stop:     # calls of tens of ms: each runs on a thread of its own
        st, _, _ = request(url + "/?n=35")
        assert st == 200
    files = wait_until(lambda: sorted((traces / NAME).glob("*.perf*")) if (traces / NAME).is_dir() else [],
                       timeout=30)
    assert files, containers.logs(cid)
    time.sleep(1.5)
    files = sorted((traces / NAME).glob("*.perf*"))
    log = containers.logs(cid)
    assert "tracing on" in log and not EPERM_LINE.search(log), log
    text = "\n".join(trace_text(f) for f in files)
    assert re.search(r"\bfib\+0x[0-9a-f]+ \(/home/app/handler\)", text), text[:3000]
    assert re.search(r"\bhandle\+0x[0-9a-f]+ \(/home/app/handler\)", text), text[:3000]
    assert INV_RE.search(text)
    st, _, body = request(fs.url + "/profile/")
    listed = {p["filename"] for p in jbody(body)}
    seen = set()
    for f in files:
        rel = f"{NAME}/{f.name}"
        assert rel in listed
        st, _, body = request(f"{fs.url}/flamegraph/?filename={quote(rel)}&type=perf")
        assert st == 200
        frames(jbody(body), seen)
    assert any(n.startswith("fib") for n in seen), sorted(seen)[:50]


def image_env(docker, image):
    return dict(e.split("=", 1) for e in docker.inspect(image)["Config"]["Env"])


def timer_sampler_available(docker, image):
    """The runtime in the image documents FNTRACE_SAMPLER (the CPU-timer sampler)."""
    out = docker.docker("run", "--rm", "--network", "host", image, "/home/app/handler", "--help",
                        check=False)
    return "FNTRACE_SAMPLER" in out


def test_image_runs_as_non_root_without_sudo_with_a_healthcheck(docker, openfaas_image):
    cfg = docker.inspect(openfaas_image)["Config"]
    assert cfg["User"] == "app"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    out = docker.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", openfaas_image, "-c",
                        "id -u; id -g; command -v sudo || echo no-sudo; ls /etc/sudoers 2>&1 || true")
    uid, gid, sudo, sudoers = out.splitlines()[:4]
    assert (uid, gid) == (UID, UID)
    assert sudo == "no-sudo" and "No such file" in sudoers
    # the runtime stage has no compiler or -dev packages
    out = docker.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", openfaas_image, "-c",
                        "command -v cc gcc make || echo none; dpkg -l | grep -c -- '-dev ' || true")
    assert out.splitlines()[0] == "none" and out.splitlines()[-1] == "0", out


def test_default_profile_serves_healthy_and_logs_eperm_once(docker, openfaas_image, containers, stack):
    traces, coll, fs = stack
    cid, url = start_function(containers, openfaas_image, coll, env={"FNTRACE_SAMPLER": "perf"})
    serve_some(url)
    assert_eperm_once(containers, cid, traces)
    uid, caps = process_status(docker, cid)
    assert (uid, caps) == (UID, 0)
    st, _, _ = request(url + "/_/health")
    assert st == 200
    health = wait_until(lambda: containers.state(cid)["Health"]["Status"] == "healthy", timeout=30)
    assert health, containers.state(cid)["Health"]


def test_fntrace_perf_profile_traces_reach_the_collector(docker, openfaas_image, containers, stack,
                                                         perf_profile):
    traces, coll, fs = stack
    cid, url = start_function(containers, openfaas_image, coll, env={"FNTRACE_SAMPLER": "perf"},
                              opts=["--security-opt", f"seccomp={perf_profile}",
                                    "--security-opt", "no-new-privileges"])
    serve_some(url, n=1)
    assert_traced(containers, cid, url, traces, fs)
    # still the non-root user with no effective capability: only the filter changed
    assert process_status(docker, cid) == (UID, 0)


def test_cap_add_perfmon_under_the_default_profile(docker, openfaas_image, containers, stack):
    """Docker >= 23 knows CAP_PERFMON and its default profile allows perf_event_open with it;
    Debian 12's docker.io 20.10 refuses the capability name itself (see the README)."""
    traces, coll, fs = stack
    major = int(docker.server_version().split(".")[0])
    if major < 23:
        port = free_port()
        out = docker.docker("run", "--rm", "--network", "host", "--cap-add", "PERFMON",
                            "-e", f"port={port}", openfaas_image, check=False)
        assert 'invalid CapAdd: unknown capability: "CAP_PERFMON"' in out, out
        return
    cid, url = start_function(containers, openfaas_image, coll, env={"FNTRACE_SAMPLER": "perf"},
                              opts=["--cap-add", "PERFMON"])
    serve_some(url, n=1)
    assert_traced(containers, cid, url, traces, fs)
    assert process_status(docker, cid) == (UID, 0)


def test_default_sampler_is_the_one_for_docker_default_profile(docker, openfaas_image, containers, stack):
    """OpenFaaS CE cannot change a function's seccomp profile: the image's default tracing
    is the CPU-timer sampler once the runtime has it, and then it traces under Docker's
    default profile; until then it is perf, which logs EPERM once and serves."""
    traces, coll, fs = stack
    sampler = image_env(docker, openfaas_image)["FNTRACE_SAMPLER"]
    expected = "timer" if timer_sampler_available(docker, openfaas_image) else "perf"
    assert sampler == expected
    cid, url = start_function(containers, openfaas_image, coll)
    serve_some(url, n=1)
    if sampler == "timer":
        assert_traced(containers, cid, url, traces, fs)
    else:
        assert_eperm_once(containers, cid, traces)
