"""`fntrace agent` against real function containers in the session's dockerd, tracing
inside them off (FNTRACE=0): what a node operator checks.

- On the host, as root, pointed at the test daemon (its socket with --docker-sock or
  DOCKER_HOST, or its data-root with --docker-root when no socket answers) and at
  Docker's cgroup directory: under load, one trace per container reaches a collector on
  loopback, named after the OpenFaaS function label (com.openfaas.function) or the
  container name, with that container's processes and its function frames symbolized
  from the binary inside the container (/proc/PID/root: the paths do not exist on the
  host), none of the other container's; SIGTERM uploads what the agent holds and it exits 0.
- docker-compose.yml + docker-compose.agent.yml (Debian's docker-compose): the agent
  container runs as root with exactly the capabilities the file grants (on Docker < 23,
  which refuses CAP_BPF by name, the documented SYS_ADMIN fallback) under
  seccomp/profiles/fntrace-bpf.json, uploads a trace of the function container named
  after it, none of itself, and `stop` (SIGTERM) makes it flush and exit 0."""
import gzip
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import BUILD, PROFILES, ROOT, free_port, wait_port
from polling import wait_until
from dockerd import COMPOSE
from collector_helpers import start_collector
from handler_common import request
from test_tracer_record import parse

FNTRACE = BUILD / "bin" / "fntrace"
BPF_PROFILE = PROFILES / "fntrace-bpf.json"
WINDOW = "1.5"
OPENFAAS_LABEL = "hello-agent"          # the OpenFaaS function label of container A
HANDLER = "/home/app/handler"           # A's binary, inside its image only
EXAMPLES = "/usr/local/bin/fnhandler-examples"   # B's binary, inside its image only
# capability bits (linux/capability.h)
CAPS = {"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "PERFMON": 38, "BPF": 39}


def collector_traces(url):
    with urllib.request.urlopen(f"{url}/api/v1/traces", timeout=10) as r:
        return json.loads(r.read())


def collector_text(url, tid):
    with urllib.request.urlopen(f"{url}/api/v1/traces/{tid}", timeout=10) as r:
        data = r.read()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode(errors="replace")


def traces_of(url, names):
    """{name: [(header, samples) of each of its traces]} for the names given."""
    out = {n: [] for n in names}
    for t in collector_traces(url):
        if t["name"] in out:
            out[t["name"]].append(parse(collector_text(url, t["id"])))
    return out


def pids_of(samples):
    pids = set()
    for ev, _ in samples:
        tok = next(t for t in ev.split() if "/" in t and t.split("/")[0].isdigit())
        pids.add(int(tok.split("/")[0]))
    return pids


def with_frame(samples, sym, module):
    return sum(1 for _, fr in samples if any(s == sym and m == module for s, m in fr))


def modules(samples):
    return {m for _, fr in samples for _, m in fr}


class Load:
    """Requests to each URL from a thread of its own until stopped; counts the answers."""

    def __init__(self, urls):
        self.stop_flag = threading.Event()
        self.ok = {u: 0 for u in urls}
        self.bad = []
        self.threads = [threading.Thread(target=self._run, args=(u,), daemon=True) for u in urls]
        for t in self.threads:
            t.start()

    def _run(self, url):
        while not self.stop_flag.is_set():
            st, _, body = request(url, timeout=30)
            if st == 200:
                self.ok[url] += 1
            else:
                self.bad.append((url, st, body[:200]))

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)


def container_pids(docker, cid):
    """Host pids of the container's processes (its cgroup, cpu hierarchy)."""
    pid = docker.inspect(cid)["State"]["Pid"]
    cg = next(line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
              if "cpu" in line.split(":")[1].split(","))
    procs = Path(cpu_mount()) / cg.lstrip("/") / "cgroup.procs"
    return {int(p) for p in procs.read_text().split()}, cg


def cpu_mount():
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        f, r = left.split(), right.split()
        if r[0] == "cgroup" and "cpu" in r[2].split(","):
            return f[4]
    pytest.fail("no cgroup v1 cpu hierarchy: Docker here puts containers in cgroup v1")


def start_functions(docker, containers, openfaas_image, fntrace_image):
    """A: the OpenFaaS template's image with an OpenFaaS function label; B: the fntrace
    image's example app (fibonacci) under its container name.  Both untraced inside."""
    pa, pb = free_port(), free_port()
    a = containers.run(openfaas_image, HANDLER, "--listen", "127.0.0.1",
                       opts=["--label", f"com.openfaas.function={OPENFAAS_LABEL}"],
                       env={"port": str(pa), "FNTRACE": "0"})
    b = containers.run(fntrace_image, "fnhandler-examples", "--listen", "127.0.0.1",
                       "--function", "fibonacci", env={"port": str(pb), "FNTRACE": "0"})
    for cid, port in ((a, pa), (b, pb)):
        try:
            wait_port(port, timeout=20)
        except TimeoutError:
            pytest.fail(f"function did not listen:\n{containers.logs(cid)}")
    name_b = docker.inspect(b)["Name"].lstrip("/")
    return {OPENFAAS_LABEL: (a, f"http://127.0.0.1:{pa}/?n=32", HANDLER, "fib"),
            name_b: (b, f"http://127.0.0.1:{pb}/?n=30", EXAMPLES, "fibonacci")}


def stop_proc(p):
    if p.poll() is None:
        p.kill()
    p.wait(timeout=30)


@pytest.mark.parametrize("names_from", ["socket", "DOCKER_HOST", "data-root"])
def test_host_agent_one_trace_per_function_container(docker, openfaas_image, fntrace_image,
                                                     containers, daemon, tmp_path, names_from):
    col = start_collector(daemon, tmp_path / "store")
    fns = start_functions(docker, containers, openfaas_image, fntrace_image)
    pids, cgroups = {}, {}
    for name, (cid, *_rest) in fns.items():
        pids[name], cgroups[name] = container_pids(docker, cid)
    parents = {str(Path(cg).parent) for cg in cgroups.values()}
    assert len(parents) == 1, cgroups
    root = Path(cpu_mount()) / parents.pop().lstrip("/")     # Docker's cgroup directory
    for path in (HANDLER, EXAMPLES):
        assert not Path(path).exists(), f"{path} on the host: the test would prove nothing"
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    none = ["--docker-root", str(tmp_path / "none")]      # the API answers, nothing to read
    if names_from == "socket":
        where = ["--docker-sock", f"unix://{docker.sock}", *none]
    elif names_from == "DOCKER_HOST":         # the Docker client's variable, no option
        where, env["DOCKER_HOST"] = none, f"unix://{docker.sock}"
    else:                                     # no daemon on the socket: config.v2.json
        where = ["--docker-sock", str(tmp_path / "no.sock"), "--docker-root", str(docker.data_root)]
    log_path = tmp_path / "agent.log"
    load = Load([url for _, url, _, _ in fns.values()])
    agent = None
    try:
        with open(log_path, "w") as log:
            agent = subprocess.Popen([str(FNTRACE), "agent", "--collector", col.url + "/",
                                      "--window", WINDOW, "--cgroup-root", str(root), "-F", "200",
                                      *where], stderr=log, env=env)
        want = set(fns)
        seen = wait_until(lambda: want <= {t["name"] for t in collector_traces(col.url)},
                          timeout=40, step=0.3)
        assert seen, ({t["name"] for t in collector_traces(col.url)}, log_path.read_text())
        before = {n: len(v) for n, v in traces_of(col.url, want).items()}
        time.sleep(1.0)                        # inside the next window: SIGTERM flushes it
        os.kill(agent.pid, signal.SIGTERM)
        rc = agent.wait(timeout=30)
    finally:
        load.stop()
        if agent:
            stop_proc(agent)
    log = log_path.read_text()
    assert rc == 0, log
    assert not load.bad, load.bad[:3]
    assert all(load.ok.values()), load.ok
    got = traces_of(col.url, set(fns))
    for name, (cid, _url, binary, hot) in fns.items():
        mine = got[name]
        assert len(mine) > before[name], (name, before, log)     # the SIGTERM flush
        samples = [s for header, ss in mine for s in ss]
        for header, _ in mine:
            assert header["fntrace container"] == name
            assert header["fntrace backend"] == "bpf"
        # the container's own processes only, its function's frames, from inside it
        assert samples and pids_of(samples) <= pids[name], (name, pids_of(samples), pids[name])
        assert with_frame(samples, hot, binary) >= 0.5 * len(samples), \
            (name, len(samples), with_frame(samples, hot, binary), sorted(modules(samples)))
        others = {b for n, (_, _, b, _) in fns.items() if n != name}
        assert not modules(samples) & others, (name, modules(samples))
    assert f"name={OPENFAAS_LABEL}" in log


# --- docker-compose.yml + docker-compose.agent.yml ---------------------------------------

def compose_runner(docker, fntrace_image, extra_env):
    assert COMPOSE, "docker-compose not found: install Debian's docker-compose (make deps)"
    ports = {k: free_port() for k in ("COLLECTOR", "FLAMESCOPE", "FUNCTION")}
    env = dict(docker.env, FNTRACE_IMAGE=fntrace_image, FNTRACE_WINDOW="1s",
               FNTRACE_AGENT_WINDOW="2", FNTRACE_DOCKER_SOCK=str(docker.sock),
               FNTRACE_DOCKER_ROOT=str(docker.data_root),
               COMPOSE_PROJECT_NAME="fntrace-test-" + uuid.uuid4().hex[:8], **extra_env)
    env.update({f"FNTRACE_{k}_PORT": str(v) for k, v in ports.items()})
    base = [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "-f",
            str(ROOT / "docker-compose.agent.yml"), "--project-directory", str(ROOT)]

    def run(*args, timeout=300):
        p = subprocess.run(base + list(args), env=env, cwd=ROOT, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.returncode, p.stdout.decode(errors="replace")
    return run, ports


def status_fields(pid):
    st = Path(f"/proc/{pid}/status").read_text()
    pairs = (line.split(":", 1) for line in st.splitlines() if ":" in line)
    return {k: v.strip() for k, v in pairs}


def test_compose_agent_service_caps_seccomp_and_traces(docker, fntrace_image, perf_profile):
    assert BPF_PROFILE.is_file(), f"{BPF_PROFILE} is missing: the seccomp component ships it"
    major = int(docker.server_version().split(".")[0])
    fallback = {}
    if major < 23:
        # what the file declares is refused by name on this daemon ...
        run, _ = compose_runner(docker, fntrace_image, {})
        rc, out = run("up", "-d", "--no-build", "--no-deps", "agent")
        run("down", "-v", "--timeout", "5")
        assert rc != 0 and 'unknown capability: "CAP_BPF"' in out, out
        # ... and the documented fallback is what works
        fallback = {"FNTRACE_AGENT_CAP_BPF": "SYS_ADMIN",
                    "FNTRACE_AGENT_CAP_PERFMON": "CAP_SYS_ADMIN"}
        granted = {"SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"}
    else:
        granted = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"}
    run, ports = compose_runner(docker, fntrace_image, fallback)
    rc, out = run("up", "-d", "--no-build")
    load = None
    try:
        assert rc == 0, out
        for p in ports.values():
            wait_port(p, timeout=30)
        cid = {s: run("ps", "-q", s)[1].strip().splitlines()[-1] for s in ("agent", "function")}
        info = {s: docker.inspect(c) for s, c in cid.items()}
        name = {s: i["Name"].lstrip("/") for s, i in info.items()}
        # the agent: root, exactly the capabilities granted, the fntrace-bpf filter
        fields = status_fields(info["agent"]["State"]["Pid"])
        mask = sum(1 << CAPS[c] for c in granted)
        assert fields["Uid"].split()[0] == "0"
        assert int(fields["CapEff"], 16) == mask, (fields["CapEff"], granted)
        assert int(fields["CapBnd"], 16) == mask, fields["CapBnd"]
        assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "1"
        opts = info["agent"]["HostConfig"]["SecurityOpt"]
        seccomp = [o.split("=", 1)[1] for o in opts if o.startswith("seccomp=")]
        assert [json.loads(s) for s in seccomp] == [json.loads(BPF_PROFILE.read_text())]
        assert info["agent"]["HostConfig"]["PidMode"] == "host"
        fn_pids = {info["function"]["State"]["Pid"]}
        col = f"http://127.0.0.1:{ports['COLLECTOR']}"
        load = Load([f"http://127.0.0.1:{ports['FUNCTION']}/?n=30"])
        ok = wait_until(lambda: name["function"] in {t["name"] for t in collector_traces(col)},
                        timeout=40, step=0.3)
        assert ok, ({t["name"] for t in collector_traces(col)},
                    run("logs", "--no-color")[1][-4000:])
        before = len(traces_of(col, {name["function"]})[name["function"]])
        time.sleep(1.0)
        rc, out = run("stop", "--timeout", "20", "agent")        # SIGTERM
        assert rc == 0, out
        state = docker.inspect(cid["agent"])["State"]
        agent_log = docker.docker("logs", cid["agent"], check=False)
        assert state["ExitCode"] == 0, agent_log[-3000:]
        load.stop()
        assert not load.bad, load.bad[:3]
        names = {t["name"] for t in collector_traces(col)}
        assert name["agent"] not in names, names              # not a trace of itself
        mine = traces_of(col, {name["function"]})[name["function"]]
        assert len(mine) > before, agent_log[-3000:]          # the flush on SIGTERM
        samples = [s for _, ss in mine for s in ss]
        assert all(h["fntrace container"] == name["function"] for h, _ in mine)
        assert pids_of(samples) <= fn_pids, (pids_of(samples), fn_pids)
        assert with_frame(samples, "fibonacci", EXAMPLES) >= 0.5 * len(samples), \
            (len(samples), sorted(modules(samples)))
    finally:
        if load:
            load.stop()
        print(run("logs", "--no-color")[1][-6000:])
        run("down", "-v", "--timeout", "10")
