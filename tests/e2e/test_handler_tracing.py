"""Tracing inside the runtime, end to end: fnhandler-examples with FNTRACE=1 under load
uploads a trace every window to a real fntrace-collector; fntrace-flamescope reading the
collector's directory shows the `pi` and `fibonacci` frames in the flame graph, and the
traces carry the invocations (`# fntrace invocation` lines) on the clock of the samples.
With perf_event_open refused by a seccomp filter the app serves as usual and says why in
one log line (FNTRACE_SAMPLER=perf), or traces with the timer sampler, which needs no
perf_event_open.  An idle app uploads nothing: the tracing thread never samples itself.
A busy window keeps a uniform sample of its calls (FNTRACE_INVOCATIONS of them)."""
import gzip
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import binary, free_port
from handler_common import PI_50, jbody, request, start_examples, start_trace_stack, wait_until

NAME = "examples-e2e"
INV_RE = re.compile(r"^# fntrace invocation : (.*)$", re.M)
EVENT_RE = re.compile(r" +([0-9]+\.[0-9]+): +[0-9]+ +cpu-clock:")


def trace_text(path):
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode(errors="replace")


def frames(node, out):
    out.add(node.get("n", ""))
    for c in node.get("c", []):
        frames(c, out)
    return out


def load(url, seconds):
    """pi and fibonacci (CPU-bound) and hello, from 3 threads, for `seconds`."""
    statuses = []
    stop = time.monotonic() + seconds

    def worker(paths):
        while time.monotonic() < stop:
            for p in paths:
                statuses.append(request(url + p)[0])
    threads = [threading.Thread(target=worker, args=(ps,)) for ps in
               (["/pi?digits=2500"], ["/fibonacci?n=29"], ["/hello?name=load", "/circle-area?radius=3"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.fixture
def stack(daemon, tmp_path):
    traces = tmp_path / "traces"
    traces.mkdir()
    coll, fs = start_trace_stack(daemon, traces)
    return traces, coll, fs


def test_traced_app_uploads_frames_and_invocations(daemon, tmp_path, stack):
    traces, coll, fs = stack
    app = start_examples(daemon, ["--port", "{port}"], env={
        "FNTRACE": "1", "FNTRACE_FREQ": "499", "FNTRACE_WINDOW": "2s",
        "FNTRACE_COLLECTOR": coll.url + "/", "FNTRACE_NAME": NAME,
        "FNTRACE_SPOOL": str(tmp_path / "spool")})
    statuses = load(app.url, 4)
    assert statuses and set(statuses) == {200}
    st, _, body = request(app.url + "/pi?digits=50")
    assert jbody(body)["pi"] == PI_50
    # the windows that saw the load reach the collector
    files = wait_until(lambda: sorted((traces / NAME).glob("*.perf*")) if (traces / NAME).is_dir() else [],
                       timeout=60)
    assert files, app.log()
    time.sleep(2.5)                        # one more window: the end of the load
    files = sorted((traces / NAME).glob("*.perf*"))
    assert "tracing on" in app.log()

    # flamescope lists them and shows the functions' frames
    st, _, body = request(fs.url + "/profile/")
    listed = {p["filename"] for p in jbody(body)}
    seen = set()
    for f in files:
        rel = f"{NAME}/{f.name}"
        assert rel in listed
        st, _, body = request(f"{fs.url}/flamegraph/?filename={quote(rel)}&type=perf")
        assert st == 200
        frames(jbody(body), seen)
    assert any(n.startswith("pi_digits") for n in seen), sorted(seen)[:50]
    assert any(n.startswith("fibonacci") for n in seen), sorted(seen)[:50]

    # flamescope lists the invocations of each trace, and one pi invocation's flame graph
    # has the pi frames
    api_invs = []
    for f in files:
        rel = f"{NAME}/{f.name}"
        st, _, body = request(f"{fs.url}/api/v1/invocations?filename={quote(rel)}")
        assert st == 200
        api_invs += [dict(i, file=rel) for i in jbody(body)]
    assert {"pi", "fibonacci", "hello"} <= {i["fn"] for i in api_invs}
    longest = max((i for i in api_invs if i["fn"] == "pi"), key=lambda i: i["end"] - i["start"])
    st, _, body = request(f"{fs.url}/api/v1/flamegraph?filename={quote(longest['file'])}"
                          f"&invocation={quote(longest['id'])}")
    assert st == 200
    assert any(n.startswith("pi_digits") for n in frames(jbody(body), set()))

    # every invocation names the thread that ran it, and while pi and fibonacci ran at
    # the same time, an invocation's flame graph holds its own function only
    assert all(isinstance(i["tid"], int) and i["tid"] > 0 for i in api_invs)
    check_concurrent_invocations(fs.url, api_invs)

    # the invocations travel in the traces, on the samples' clock
    invs, times = [], []
    for f in files:
        text = trace_text(f)
        for line in INV_RE.findall(text):
            invs.append(dict(kv.split("=", 1) for kv in line.split()))
        times += [float(t) for t in EVENT_RE.findall(text)]
    fns = {i["fn"] for i in invs}
    assert {"pi", "fibonacci", "hello", "circle-area"} <= fns
    assert all(i["status"] == "200" for i in invs)
    assert len({i["id"] for i in invs}) == len(invs)
    pis = [i for i in invs if i["fn"] == "pi"]
    assert all(float(i["end"]) >= float(i["start"]) for i in invs)
    # each pi invocation lies within the span of the samples taken while the load ran
    assert times
    lo, hi = min(times), max(times)
    assert all(lo - 1 <= float(i["start"]) <= hi + 1 for i in pis)


PI_FRAMES = ("pi_digits", "pi")
FIB_FRAMES = ("fibonacci", "fibonacci_fn")


def check_concurrent_invocations(url, api_invs):
    """The longest pi and fibonacci invocations that overlapped one of the other kind (in
    the same trace): a pi one's flame graph has pi frames and no fibonacci frame, and the
    other way round."""
    def overlaps(a, b):
        return a["file"] == b["file"] and a["start"] < b["end"] and b["start"] < a["end"]
    pis = [i for i in api_invs if i["fn"] == "pi"]
    fibs = [i for i in api_invs if i["fn"] == "fibonacci"]
    for mine, others, own, foreign in ((pis, fibs, PI_FRAMES, FIB_FRAMES),
                                       (fibs, pis, FIB_FRAMES, PI_FRAMES)):
        concurrent = [i for i in mine if any(overlaps(i, o) for o in others)]
        assert concurrent, "no pi invocation overlapped a fibonacci one"
        assert all(o["tid"] != i["tid"] for i in concurrent for o in others if overlaps(i, o))
        concurrent.sort(key=lambda i: i["end"] - i["start"], reverse=True)
        with_own = 0
        for inv in concurrent[:25]:
            st, _, body = request(f"{url}/api/v1/flamegraph?filename={quote(inv['file'])}"
                                  f"&invocation={quote(inv['id'])}")
            assert st == 200
            names = frames(jbody(body), set())
            assert not names & set(foreign), (inv, sorted(names))
            with_own += bool(names & set(own))
        assert with_own, f"no {own[0]} frames in the longest {own[0]} invocations"


def test_perf_event_open_refused_still_serves(daemon, tmp_path, stack):
    traces, coll, fs = stack
    port = free_port()
    app = daemon([binary("noperf"), binary("fnhandler-examples"), "--port", str(port)], port, env={
        "FNTRACE": "1", "FNTRACE_WINDOW": "1s", "FNTRACE_COLLECTOR": coll.url + "/",
        "FNTRACE_NAME": NAME, "FNTRACE_SAMPLER": "perf"}, name="noperf-app")
    for path, check in (("/hello?name=seccomp", lambda b: b == b"Hello from C, seccomp!"),
                        ("/pi?digits=50", lambda b: jbody(b)["pi"] == PI_50),
                        ("/fibonacci?n=20", lambda b: jbody(b)["fibonacci"] == 6765)):
        st, _, body = request(app.url + path)
        assert st == 200 and check(body)
    time.sleep(1.5)
    log = app.log()
    off = [l for l in log.splitlines() if "tracing off" in l]
    assert len(off) == 1, log
    assert "perf_event_open" in off[0]
    assert "tracing on" not in log
    assert not (traces / NAME).exists()


def trace_samples(text):
    """(comm, [frame symbols]) of each sample of a perf-script text."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            cur = None
            continue
        if cur is None:
            cur = (line.split(" ")[0].strip(), [])
            out.append(cur)
        else:
            m = re.match(r"^\s*[0-9a-f]+ (\S+?)(\+0x[0-9a-f]+)? \(", line)
            if m:
                cur[1].append(m.group(1))
    return out


def test_timer_sampler_traces_under_seccomp(daemon, tmp_path, stack):
    """perf_event_open refused: FNTRACE_SAMPLER=timer still traces the functions."""
    traces, coll, fs = stack
    port = free_port()
    app = daemon([binary("noperf"), binary("fnhandler-examples"), "--port", str(port)], port, env={
        "FNTRACE": "1", "FNTRACE_WINDOW": "1s", "FNTRACE_COLLECTOR": coll.url + "/",
        "FNTRACE_NAME": NAME, "FNTRACE_SAMPLER": "timer"}, name="noperf-timer-app")
    statuses = load(app.url, 3)
    assert statuses and set(statuses) == {200}
    files = wait_until(lambda: sorted((traces / NAME).glob("*.perf*")) if (traces / NAME).is_dir() else [],
                       timeout=30)
    assert files, app.log()
    time.sleep(1.5)
    log = app.log()
    assert "tracing off" not in log and "sampler=timer" in log, log
    # each window's log line says how many of its samples stand for late signals
    counts = [(int(a), int(b))
              for a, b in re.findall(r"trace uploaded.* samples=(\d+) late=(\d+)", log)]
    assert counts and all(late <= n for n, late in counts), log
    seen, comms, headers = set(), set(), []
    for f in sorted((traces / NAME).glob("*.perf*")):
        text = trace_text(f)
        headers.append(text)
        for comm, fr in trace_samples(text):
            comms.add(comm)
            seen.update(fr)
    assert all("# fntrace backend : timer" in t and "# fntrace frames : user" in t for t in headers)
    assert any(n.startswith("pi_digits") for n in seen), sorted(seen)[:50]
    assert any(n.startswith("fibonacci") for n in seen), sorted(seen)[:50]
    assert "fntrace" not in comms and "tracer_poll" not in seen
    # flamescope reads them like any other trace
    rel = f"{NAME}/{files[0].name}"
    st, _, body = request(f"{fs.url}/flamegraph/?filename={quote(rel)}&type=perf")
    assert st == 200


@pytest.mark.parametrize("sampler", ["timer", "perf"])
def test_idle_app_uploads_nothing(daemon, tmp_path, stack, sampler):
    """No invocation and no sample of the app's own threads in a window: nothing is
    uploaded (the tracing thread and its upload never sample themselves)."""
    traces, coll, fs = stack
    app = start_examples(daemon, ["--port", "{port}"], env={
        "FNTRACE": "1", "FNTRACE_WINDOW": "0.5s", "FNTRACE_COLLECTOR": coll.url + "/",
        "FNTRACE_NAME": NAME, "FNTRACE_SAMPLER": sampler, "FNTRACE_FREQ": "1000"})
    st, _, body = request(app.url + "/fibonacci?n=27")
    assert st == 200
    files = wait_until(lambda: sorted((traces / NAME).glob("*.perf*")) if (traces / NAME).is_dir() else [],
                       timeout=30)
    assert files, app.log()
    # The request's own windows may still be on their way (a call that spans a window
    # boundary is in two traces; an upload can lag on a loaded machine): wait until no
    # new trace came for three windows, then the idle windows must add none.
    before = set((traces / NAME).glob("*.perf*"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = set((traces / NAME).glob("*.perf*"))
        if now == before:
            break
        before = now
    time.sleep(3)                            # six idle windows
    after = set((traces / NAME).glob("*.perf*"))
    assert after == before, [p.name for p in after - before]
    assert f"sampler={sampler}" in app.log()
    for f in after:
        assert all(c != "fntrace" for c, _ in trace_samples(trace_text(f)))


DROPPED_RE = re.compile(r"^# fntrace invocations dropped : ([0-9]+)$", re.M)


def test_busy_window_keeps_a_sample_of_its_whole_span(daemon, tmp_path, stack):
    """More calls in a window than FNTRACE_INVOCATIONS: the trace keeps that many, spread
    over the whole window (a uniform sample), not only its last calls, and counts the
    others in the header."""
    traces, coll, fs = stack
    app = start_examples(daemon, ["--port", "{port}"], env={
        "FNTRACE": "1", "FNTRACE_WINDOW": "2s", "FNTRACE_INVOCATIONS": "40",
        "FNTRACE_COLLECTOR": coll.url + "/", "FNTRACE_NAME": NAME})
    stop = time.monotonic() + 5
    statuses = []

    def hammer():
        while time.monotonic() < stop:
            statuses.append(request(app.url + "/hello?name=busy")[0])
    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {200}
    def dropping():
        if not (traces / NAME).is_dir():
            return []
        return [f for f in (traces / NAME).glob("*.perf*") if DROPPED_RE.search(trace_text(f))]
    files = wait_until(dropping, timeout=30)
    assert files, app.log()
    # the busiest window (most calls dropped) is one the load filled from end to end
    text = max((trace_text(f) for f in files), key=lambda t: int(DROPPED_RE.search(t).group(1)))
    dropped = int(DROPPED_RE.search(text).group(1))
    invs = [dict(kv.split("=", 1) for kv in line.split()) for line in INV_RE.findall(text)]
    assert len(invs) == 40 and dropped > 200, (len(invs), dropped)
    starts = sorted(float(i["start"]) for i in invs)
    # 40 of hundreds of calls over 2 s: a uniform sample spans most of it (~1.9 s); the
    # 40 newest calls would span a few milliseconds
    assert starts[-1] - starts[0] > 1.0, starts
    assert len({i["id"] for i in invs}) == 40
