"""fntrace-flamescope end to end: FlameScope's API against FlameScope's own answers
(golden files), hostile requests, gzip, invocations, exports (folded against an
independent stackcollapse-perf.pl, pprof through `go tool pprof`, speedscope, svg),
profiles appended or replaced while served, and single-flight index builds."""
import gzip
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from conftest import GOLDEN, TESTDATA, binary, free_port, http, pb_fields
from flamescope_stackcollapse import stackcollapse

PROFILES = ["perf-node-jit.stacks", "perf-threads.stacks", "flamescope-perf.test01",
            "perf-system.stacks"]


def norm(t):
    """A flame graph tree with children in a canonical order (FlameScope's order of
    children with distinct names is not part of the contract)."""
    if isinstance(t, dict):
        d = {k: norm(v) for k, v in t.items()}
        if "c" in d:
            d["c"] = sorted(d["c"], key=lambda x: (x["n"], x["l"], json.dumps(x, sort_keys=True)))
        return d
    if isinstance(t, list):
        return [norm(x) for x in t]
    return t


def total(tree):
    return tree["v"] + sum(total(c) for c in tree["c"])


@pytest.fixture
def profdir(tmp_path):
    d = tmp_path / "traces"
    d.mkdir()
    for p in PROFILES:
        shutil.copy(TESTDATA / p, d / p)
    return d


@pytest.fixture
def server(daemon, profdir):
    port = free_port()
    return daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(profdir)],
                  port)


def get(srv, path, **params):
    q = urllib.parse.urlencode(params)
    return http("GET", f"{srv.url}{path}" + (f"?{q}" if q else ""))


def get_json(srv, path, **params):
    st, hd, body = get(srv, path, **params)
    assert st == 200, (path, params, st, body[:300])
    return json.loads(body)


def golden(name):
    return json.loads((GOLDEN / name).read_text())


# --------------------------------------------------------------------------- golden

GOLDEN_REQUESTS = [
    ("flamescope-perf.test01.heatmap.json", "/heatmap/", {"filename": "flamescope-perf.test01"}),
    ("perf-node-jit.stacks.heatmap.json", "/heatmap/", {"filename": "perf-node-jit.stacks"}),
    ("perf-system.stacks.heatmap.json", "/heatmap/", {"filename": "perf-system.stacks"}),
    ("perf-system.stacks.heatmap-rows25.json", "/heatmap/",
     {"filename": "perf-system.stacks", "rows": "25"}),
    ("perf-threads.stacks.heatmap.json", "/heatmap/", {"filename": "perf-threads.stacks"}),
    ("flamescope-perf.test01.flamegraph.json", "/flamegraph/",
     {"filename": "flamescope-perf.test01"}),
    ("perf-node-jit.stacks.flamegraph.json", "/flamegraph/", {"filename": "perf-node-jit.stacks"}),
    ("perf-system.stacks.flamegraph.json", "/flamegraph/", {"filename": "perf-system.stacks"}),
    ("perf-threads.stacks.flamegraph.json", "/flamegraph/", {"filename": "perf-threads.stacks"}),
    ("perf-threads.stacks.flamegraph-1.25-2.5.json", "/flamegraph/",
     {"filename": "perf-threads.stacks", "start": "1.25", "end": "2.5"}),
    ("perf-threads.vs.perf-system.differential.json", "/differential/",
     {"filename": "perf-threads.stacks", "compareFilename": "perf-system.stacks",
      "compareType": "perf"}),
    ("perf-threads.vs.perf-system.elided.json", "/elided/",
     {"filename": "perf-threads.stacks", "compareFilename": "perf-system.stacks",
      "compareType": "perf"}),
]


def test_every_golden_file_is_covered():
    covered = {g for g, _, _ in GOLDEN_REQUESTS} | {"profile-list.json"}
    assert covered == {p.name for p in GOLDEN.iterdir()}


@pytest.mark.parametrize("name,path,params", GOLDEN_REQUESTS, ids=[g[0] for g in GOLDEN_REQUESTS])
def test_golden(server, name, path, params):
    got = get_json(server, path, type="perf", **params)
    assert norm(got) == norm(golden(name))


def test_golden_profile_list(server):
    got = get_json(server, "/profile/")
    key = lambda e: e["filename"]
    assert sorted(got, key=key) == sorted(golden("profile-list.json"), key=key)


def test_gzip_profiles_answer_the_same(daemon, profdir):
    for p in PROFILES:
        with open(profdir / p, "rb") as f, gzip.open(profdir / (p + ".gz"), "wb") as g:
            g.write(f.read())
    port = free_port()
    srv = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(profdir)], port)
    for name, path, params in GOLDEN_REQUESTS:
        params = dict(params)
        params["filename"] += ".gz"
        if "compareFilename" in params:
            params["compareFilename"] += ".gz"
        assert norm(get_json(srv, path, type="perf", **params)) == norm(golden(name)), name


def test_subfolders_are_listed_and_served(daemon, tmp_path):
    d = tmp_path / "store"
    (d / "fibonacci").mkdir(parents=True)
    shutil.copy(TESTDATA / "perf-threads.stacks", d / "fibonacci" / "20261121T101500Z-1.perf")
    (d / ".hidden.perf").write_text("x")
    port = free_port()
    srv = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d)], port)
    names = [e["filename"] for e in get_json(srv, "/profile/")]
    assert names == ["fibonacci/20261121T101500Z-1.perf"]
    got = get_json(srv, "/flamegraph/", filename=names[0], type="perf")
    assert norm(got) == norm(golden("perf-threads.stacks.flamegraph.json"))


# --------------------------------------------------------------------------- hostile

def test_hostile_requests_get_clear_4xx(server, profdir):
    (profdir / "sub").mkdir()
    shutil.copy(TESTDATA / "perf-threads.stacks", profdir / "sub" / "x.perf")
    data = (TESTDATA / "perf-threads.stacks").read_bytes()
    (profdir / "truncated.perf.gz").write_bytes(gzip.compress(data)[:5000])
    (profdir / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (profdir / "empty.perf").write_bytes(b"")
    cases = [
        ("/heatmap/", {"filename": "../../etc/passwd", "type": "perf"}, (400,)),
        ("/heatmap/", {"filename": "/etc/passwd", "type": "perf"}, (400,)),
        ("/heatmap/", {"filename": "sub/../../x", "type": "perf"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks\0.x", "type": "perf"}, (400,)),
        ("/flamegraph/", {"filename": "sub", "type": "perf"}, (400, 404)),
        ("/flamegraph/", {"filename": "missing.perf", "type": "perf"}, (404,)),
        ("/heatmap/", {"type": "perf"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks", "type": "cpuprofile"}, (400,)),
        ("/flamegraph/", {"filename": "perf-threads.stacks", "start": "3", "end": "1"}, (416,)),
        ("/flamegraph/", {"filename": "perf-threads.stacks", "end": "1000"}, (416,)),
        ("/flamegraph/", {"filename": "perf-threads.stacks", "start": "1e300"}, (416,)),
        ("/flamegraph/", {"filename": "perf-threads.stacks", "start": "abc"}, (400,)),
        ("/flamegraph/", {"filename": "perf-threads.stacks", "end": "nan"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks", "rows": "0"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks", "rows": "-5"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks", "rows": "100000000000"}, (400,)),
        ("/heatmap/", {"filename": "perf-threads.stacks", "rows": "12abc"}, (400,)),
        ("/heatmap/", {"filename": "truncated.perf.gz", "type": "perf"}, (422,)),
        ("/flamegraph/", {"filename": "binary.bin", "type": "perf"}, (422,)),
        ("/differential/", {"filename": "perf-threads.stacks", "compareFilename": "nope"}, (404,)),
        ("/differential/", {"filename": "perf-threads.stacks",
                            "compareFilename": "perf-threads.stacks",
                            "compareStart": "0.1", "compareEnd": "0.1001"}, (422,)),
        ("/api/v1/flamegraph", {"filename": "perf-threads.stacks", "invocation": "nope"}, (404,)),
        ("/api/v1/export", {"filename": "perf-threads.stacks", "format": "exe"}, (400,)),
        ("/nothing-here", {}, (404,)),
    ]
    for path, params, want in cases:
        st, hd, body = get(server, path, **params)
        assert st in want, (path, params, st, body[:200])
        assert "json" in hd.get("Content-Type", ""), (path, params)
        assert json.loads(body)["error"], (path, params)
    # an empty profile is not an error: an empty heatmap, a bare root
    hm = get_json(server, "/heatmap/", filename="empty.perf")
    assert hm["columns"] == [] and hm["maxvalue"] == 0
    assert get_json(server, "/flamegraph/", filename="empty.perf")["c"] == []
    # the server is still up and right
    got = get_json(server, "/flamegraph/", filename="perf-threads.stacks", type="perf")
    assert norm(got) == norm(golden("perf-threads.stacks.flamegraph.json"))
    st, hd, body = http("POST", server.url + "/heatmap/", body=b"x")
    assert st == 405


def test_root_serves_a_page(server):
    st, hd, body = get(server, "/")
    assert st == 200 and "text/html" in hd["Content-Type"]
    assert b"<html" in body.lower()


# --------------------------------------------------------------------------- invocations

def samples(text):
    """(time, comm, [frames leaf first]) of a perf script text (test-side parser)."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                out.append(cur)
            cur = None
            continue
        if not line[0].isspace():
            head = line.split(": ")[0]
            cur = (float(head.split()[-1].rstrip(":")), line.split()[0], [])
        elif cur is not None:
            cur[2].append(line.split()[1].split("+")[0])
    if cur:
        out.append(cur)
    return out


def with_invocations(text, invs):
    esc = lambda v: v.replace("\\", "\\\\").replace(" ", "\\x20")   # as the tracer escapes
    lines = [f"# fntrace invocation : id={esc(i)} fn={esc(fn)} start={s:.9f} end={e:.9f} "
             f"status={st}" for i, fn, s, e, st in invs]
    head, sep, rest = text.partition("\n# ========\n#\n")
    return head + sep + "\n".join(lines) + "\n" + rest


def test_invocations_and_their_flame_graphs(server, profdir):
    text = (TESTDATA / "perf-threads.stacks").read_text()
    ss = samples(text)
    t0 = ss[0][0]
    invs = [("req-1", "fibonacci", t0 + 0.3000005, t0 + 0.9000005, 200),
            ("req 2", "pi", t0 + 1.5000005, t0 + 2.2500005, 500)]
    (profdir / "inv.perf").write_text(with_invocations(text, invs))
    got = get_json(server, "/api/v1/invocations", filename="inv.perf")
    assert [g["id"] for g in got] == ["req-1", "req 2"]
    base = int(t0)
    for g, (i, fn, s, e, st) in zip(got, invs):
        assert g["fn"] == fn and g["status"] == st
        assert abs(g["start"] - s) < 1e-6 and abs(g["end"] - e) < 1e-6
        assert abs(g["rel_start"] - (s - base)) < 1e-6 and abs(g["rel_end"] - (e - base)) < 1e-6
        tree = get_json(server, "/api/v1/flamegraph", filename="inv.perf", invocation=i)
        want = sum(1 for t, _, _ in ss if s <= t <= e)
        assert want > 50 and total(tree) == want
        # the same samples as FlameScope's own range query for that window
        same = get_json(server, "/flamegraph/", filename="inv.perf",
                        start=repr(g["rel_start"]), end=repr(g["rel_end"]))
        assert norm(same) == norm(tree)


def test_query_values_with_a_nul_byte_are_refused(server, profdir):
    # the C side would read "a\0b" as "a": an invocation id or range that is not the
    # one asked for, answered as if it were (here the whole profile)
    text = (TESTDATA / "perf-threads.stacks").read_text()
    t0 = samples(text)[0][0]
    (profdir / "inv.perf").write_text(with_invocations(text, [("a", "f", t0 + 0.3,
                                                               t0 + 0.6, 200)]))
    for path, params in [
            ("/api/v1/flamegraph", {"filename": "inv.perf", "invocation": "\0a"}),
            ("/api/v1/export", {"filename": "inv.perf", "invocation": "a\0x"}),
            ("/flamegraph/", {"filename": "inv.perf", "start": "1\0junk"}),
            ("/flamegraph/", {"filename": "inv.perf", "end": "2\0"}),
            ("/differential/", {"filename": "inv.perf", "compareFilename": "inv.perf",
                                "compareStart": "0\0x"})]:
        st, _, body = get(server, path, **params)
        assert st == 400, (path, params, st)
        assert "NUL" in json.loads(body)["error"]


def frames_of(tree):
    """Every frame name in a flame graph tree."""
    out = {tree["n"]}
    for c in tree["c"]:
        out |= frames_of(c)
    return out


# One process, three threads with the same comm (only the tid tells them apart), a
# sample every 10 ms on each: tid 11 computes pi, tid 12 fibonacci, tid 13 serves.
THREAD_LEAF = {11: "compute_pi", 12: "fib_step", 13: "serve_loop"}


def threads_profile(invocation_lines):
    out = ["# ========", "# captured on : Sat Nov 21 10:15:00 2026", "# ========", "#"]
    out += invocation_lines
    for k in range(100):
        for tid, leaf in THREAD_LEAF.items():
            t = 100.0 + k * 0.01 + (tid - 11) * 0.001
            out += [f"fnhandler 10/{tid} [000] {t:.6f}:    5000000 cpu-clock: ",
                    f"\t    4010 {leaf}+0x10 (/srv/fn/handler)",
                    f"\t    4020 run_{leaf}+0x4 (/srv/fn/handler)",
                    "\t    4030 start_thread+0x30 (/usr/lib/libc.so.6)", ""]
    return "\n".join(out) + "\n"


def thread_samples(tid, s, e):
    return sum(1 for k in range(100) if s <= 100.0 + k * 0.01 + (tid - 11) * 0.001 <= e)


def test_overlapping_invocations_keep_to_their_threads(server, profdir):
    # pi on tid 11 and fibonacci on tid 12 overlap in [100.3, 100.6]; tid 13 runs all along
    pi = ("pi-1", "pi", 100.1000005, 100.6000005, 11)
    fib = ("fib 2", "fibonacci", 100.3000005, 100.9000005, 12)
    lines = [f"# fntrace invocation : id={i.replace(' ', chr(92) + 'x20')} fn={fn} "
             f"start={s:.9f} end={e:.9f} status=200 tid={tid}" for i, fn, s, e, tid in (pi, fib)]
    (profdir / "threads.perf").write_text(threads_profile(lines))
    got = get_json(server, "/api/v1/invocations", filename="threads.perf")
    assert [(g["id"], g["fn"], g["tid"]) for g in got] == [("pi-1", "pi", 11),
                                                            ("fib 2", "fibonacci", 12)]
    for (i, fn, s, e, tid) in (pi, fib):
        tree = get_json(server, "/api/v1/flamegraph", filename="threads.perf", invocation=i)
        names = frames_of(tree)
        assert THREAD_LEAF[tid] in names
        assert not names & ({v for k, v in THREAD_LEAF.items() if k != tid}), (i, names)
        assert total(tree) == thread_samples(tid, s, e) > 20
        # the exports select the same samples
        st, _, body = get(server, "/api/v1/export", filename="threads.perf", format="folded",
                          invocation=i)
        assert st == 200
        folded = body.decode()
        assert folded == f"fnhandler;start_thread;run_{THREAD_LEAF[tid]};{THREAD_LEAF[tid]} " \
                         f"{thread_samples(tid, s, e) * 5000000}\n"
        st, _, body = get(server, "/api/v1/export", filename="threads.perf",
                          format="speedscope", invocation=i)
        assert st == 200
        frames = {f["name"] for f in json.loads(body)["shared"]["frames"]}
        assert THREAD_LEAF[tid] in frames and len(frames) == 4
    # a time range is still every thread's
    tree = get_json(server, "/flamegraph/", filename="threads.perf", start="0.3", end="0.6")
    assert set(THREAD_LEAF.values()) <= frames_of(tree)


def test_invocations_without_a_thread_take_the_window(server, profdir):
    # the old line form (no tid) and hostile tids: every thread's samples in the window
    s, e = 100.3000005, 100.6000005
    lines = [f"# fntrace invocation : id=old fn=pi start={s:.9f} end={e:.9f} status=200",
             f"# fntrace invocation : id=neg fn=pi start={s:.9f} end={e:.9f} status=200 tid=-1",
             f"# fntrace invocation : id=big fn=pi start={s:.9f} end={e:.9f} status=200 "
             f"tid=99999999999",
             f"# fntrace invocation : id=abc fn=pi start={s:.9f} end={e:.9f} status=200 tid=abc"]
    want = sum(thread_samples(t, s, e) for t in THREAD_LEAF)
    for name, lns in (("old.perf", lines), ("mixed.perf", lines + [
            f"# fntrace invocation : id=own fn=pi start={s:.9f} end={e:.9f} status=200 tid=11"])):
        (profdir / name).write_text(threads_profile(lns))
        got = get_json(server, "/api/v1/invocations", filename=name)
        assert [g["tid"] for g in got][:4] == [None] * 4
        for i in ("old", "neg", "big", "abc"):
            tree = get_json(server, "/api/v1/flamegraph", filename=name, invocation=i)
            assert set(THREAD_LEAF.values()) <= frames_of(tree)
            assert total(tree) == want
    tree = get_json(server, "/api/v1/flamegraph", filename="mixed.perf", invocation="own")
    assert total(tree) == thread_samples(11, s, e) and "fib_step" not in frames_of(tree)


# --------------------------------------------------------------------------- exports

@pytest.mark.parametrize("name", PROFILES)
def test_folded_equals_stackcollapse(server, name):
    st, hd, body = get(server, "/api/v1/export", filename=name, format="folded")
    assert st == 200 and hd["Content-Type"].startswith("text/plain")
    want = stackcollapse((TESTDATA / name).read_text(errors="surrogateescape"))
    assert body.decode() == want


TRICKY = """# ========
# captured on    : Sat Nov 21 10:15:00 2026
# ========
#
V8 WorkerThread 10/11 [000]   100.000100:    250000 cpu-clock: 
\t    7f00 v8::internal::Foo(int, char const*)+0x10 (/usr/bin/node)
\t    7f01 [unknown] (/usr/lib/libc.so.6)
\t    7f02 [unknown] ([unknown])
\t    7f03 net/http.(*Client).Do+0x1 (/srv/app)
\t    7f04 a;b"c'd+0x2 (/srv/app)
\t    7f05 outer->mid->inner (/srv/app)
\t    7f06 anon::(anonymous namespace)::f(int) (/srv/app)

java 20/21 [001]   100.000200:    500000 cpu-clock: 
\t    7f10 Lcom/x/Y;::run (/tmp/perf-20.map)
\t    7f11 Interpreter (/usr/lib/jvm/libjvm.so)

worker 30/31 [001]   100.000300:    250000 page-faults: 
\t    7f20 other_event (/srv/app)

worker 30/31 [001]   100.000400: cpu-clock: 
\t    7f30 no_period (/srv/app)
\t    7f31 no_module
\t    ffffffff81000000 do_syscall_64+0x5 ([kernel.kallsyms])

"""


def test_folded_tricky_names(server, profdir):
    (profdir / "tricky.perf").write_text(TRICKY)
    st, hd, body = get(server, "/api/v1/export", filename="tricky.perf", format="folded")
    assert st == 200
    assert body.decode() == stackcollapse(TRICKY)
    assert "V8_WorkerThread;" in body.decode() and "_[i]" in body.decode()


def test_folded_go_method_rule_needs_the_order(server, profdir):
    # stackcollapse keeps "(...)" only for Go-style names: ".(" and then ")." after it;
    # a ")." before the ".(" is not one
    text = ("app 1/1 [000] 1.000000: 1 cpu-clock: \n"
            "\t1 f(x).g.(y) (/srv/app)\n"
            "\t2 pkg.(*T).M (/srv/app)\n\n")
    (profdir / "gonames.perf").write_text(text)
    st, _, body = get(server, "/api/v1/export", filename="gonames.perf", format="folded")
    assert st == 200
    assert body.decode() == stackcollapse(text) == "app;pkg.(*T).M;f 1\n"


def test_folded_range_and_invocation(server, profdir):
    text = (TESTDATA / "perf-threads.stacks").read_text()
    ss = samples(text)
    t0 = ss[0][0]
    base = int(t0)
    (profdir / "inv.perf").write_text(with_invocations(text, [("a", "f", t0 + 1.0000005,
                                                               t0 + 1.5000005, 200)]))
    st, _, body = get(server, "/api/v1/export", filename="inv.perf", format="folded",
                      invocation="a")
    assert st == 200
    n = sum(int(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines()) // 5000000
    assert n == sum(1 for t, _, _ in ss if t0 + 1.0000005 <= t <= t0 + 1.5000005)
    st, _, body = get(server, "/api/v1/export", filename="inv.perf", format="folded",
                      start="1.25", end="2.5")
    n = sum(int(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines()) // 5000000
    assert n == total(golden("perf-threads.stacks.flamegraph-1.25-2.5.json"))


def go_pprof(args, path, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"),
               GOFLAGS="", GOPATH=str(tmp_path / "gopath"))
    r = subprocess.run(["go", "tool", "pprof"] + args + [str(path)], capture_output=True,
                       text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr
    return r


def go_pprof_top(path, tmp_path):
    r = go_pprof(["-top", "-nodecount=1000", "-sample_index=samples"], path, tmp_path)
    flat = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1].endswith("%") and parts[0].isdigit():
            flat[" ".join(parts[5:])] = int(parts[0])
    return flat


@pytest.mark.skipif(shutil.which("go") is None, reason="golang-go is not installed")
def test_pprof_reads_in_go_tool_pprof(server, tmp_path):
    st, hd, body = get(server, "/api/v1/export", filename="perf-threads.stacks", format="pprof")
    assert st == 200 and body[:2] == b"\x1f\x8b"
    path = tmp_path / "p.pb.gz"
    path.write_bytes(body)
    flat = go_pprof_top(path, tmp_path)
    # leaf counts from the test's own reading of the file
    leaves = {}
    for _, _, frames in samples((TESTDATA / "perf-threads.stacks").read_text()):
        leaves[frames[0]] = leaves.get(frames[0], 0) + 1
    assert flat["hash_block"] == leaves["hash_block"] == 900
    assert flat["compute_pi"] == leaves["compute_pi"]
    assert flat["fib_phase"] == leaves["fib_phase"]


FRAME_LINE = re.compile(r"\s+([0-9a-f]+) (\S.*?)(?:\+0x[0-9a-f]+)? \((.+)\)$")


@pytest.mark.skipif(shutil.which("go") is None, reason="golang-go is not installed")
def test_pprof_keeps_modules_and_addresses(server, profdir, tmp_path):
    name = "perf-system.stacks"
    st, _, body = get(server, "/api/v1/export", filename=name, format="pprof")
    assert st == 200
    path = tmp_path / "s.pb.gz"
    path.write_bytes(body)
    # the test's own reading: every module, and each function's first frame line
    modules, first = set(), {}
    for line in (profdir / name).read_text().splitlines():
        m = FRAME_LINE.match(line)
        if m:
            modules.add(m.group(3))
            first.setdefault(m.group(2), (int(m.group(1), 16), m.group(3)))
    assert len(modules) >= 3
    raw = go_pprof(["-raw"], path, tmp_path).stdout
    maps, locs, section = {}, [], None
    for line in raw.splitlines():
        if line in ("Locations", "Mappings"):
            section = line
        elif section == "Mappings" and line.strip():
            # id: start/limit/offset path [FN]
            mid, rng, mpath = re.match(r"(\d+): (\S+) (.+?)\s+\[FN\]$", line).groups()
            lo, hi, _ = (int(x, 16) for x in rng.split("/"))
            maps[int(mid)] = (lo, hi, mpath)
        elif section == "Locations" and line.strip():
            # id: 0xaddr M=mapping function file:line s=0
            m = re.match(r"\s*\d+: 0x([0-9a-f]+) M=(\d+) (.+) (.+):0 s=0$", line)
            if m:
                locs.append((int(m.group(1), 16), int(m.group(2)), m.group(3), m.group(4)))
    # one mapping per module of the trace, each function in its module at its address
    assert sorted(mp for _, _, mp in maps.values()) == sorted(modules)
    assert len(locs) > 20
    for addr, mid, fn, fname in locs:
        lo, hi, mpath = maps[mid]
        assert lo <= addr < hi and fname == mpath, (fn, hex(addr), maps[mid])
        if fn in first:
            assert (addr, mpath) == first[fn], fn
    assert {fname for _, _, _, fname in locs} == modules
    # -top still answers what the flame graph shows: the hot functions' own samples
    flat = go_pprof_top(path, tmp_path)
    tree, own = get_json(server, "/flamegraph/", filename=name), {}
    def walk(t):
        own[t["n"]] = own.get(t["n"], 0) + t["v"]
        for c in t["c"]:
            walk(c)
    walk(tree)
    hot = [n for n, v in own.items() if v * 200 >= total(tree)]      # 0.5% and more
    assert "hash_block" in hot and len(hot) >= 3
    for n in hot:
        assert flat[n] == own[n], n
    assert "File: worker" in go_pprof(["-top", "-sample_index=samples"], path, tmp_path).stdout


def pprof_strings(gz):
    """The string_table (field 6) of a gzip'd profile.proto message."""
    return pb_fields(gzip.decompress(gz)).get(6, [])


def test_pprof_strings_are_utf8(server, profdir):
    # profile.proto is proto3: its strings must be UTF-8, or protobuf's own decoders
    # (Go's google.golang.org/protobuf, Python's) reject the whole profile
    (profdir / "bytes.perf").write_bytes(b"app 1/1 [000] 1.000000: 1 cpu-clock: \n"
                                         b"\t1 bad\xffname (/srv/app)\n"
                                         b"\t2 caf\xc3\xa9 (/srv/app)\n\n")
    st, _, body = get(server, "/api/v1/export", filename="bytes.perf", format="pprof")
    assert st == 200
    strs = [s.decode("utf-8") for s in pprof_strings(body)]   # raises on invalid UTF-8
    assert "bad\ufffdname" in strs and "caf\u00e9" in strs and strs[0] == ""


def test_speedscope_export(server):
    st, hd, body = get(server, "/api/v1/export", filename="perf-system.stacks",
                       format="speedscope")
    assert st == 200
    doc = json.loads(body)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = [f["name"] for f in doc["shared"]["frames"]]
    # one profile per thread; together the same stacks and weights as the folded export
    agg = {}
    assert len(doc["profiles"]) > 1
    for prof in doc["profiles"]:
        assert prof["type"] == "sampled" and len(prof["samples"]) == len(prof["weights"])
        assert sum(prof["weights"]) == prof["endValue"]
        for stack, w in zip(prof["samples"], prof["weights"]):
            k = ";".join(frames[i] for i in stack)
            agg[k] = agg.get(k, 0) + w
    folded = stackcollapse((TESTDATA / "perf-system.stacks").read_text())
    want = {l.rsplit(" ", 1)[0]: int(l.rsplit(" ", 1)[1]) for l in folded.splitlines()}
    assert agg == want


def test_export_list_names_every_format_it_serves(server):
    formats = get_json(server, "/api/v1/exports")
    names = [f["name"] for f in formats]
    assert {"folded", "svg", "pprof", "speedscope"} <= set(names)
    assert len(names) == len(set(names))
    for f in formats:
        st, hd, body = get(server, "/api/v1/export", filename="perf-threads.stacks",
                           format=f["name"])
        assert st == 200 and body, f
        assert hd["Content-Type"] == f["contentType"]
        assert hd["Content-Disposition"].endswith(f'filename="perf-threads.stacks.{f["ext"]}"')
        assert f["description"]
    st, _, body = get(server, "/api/v1/export", filename="perf-threads.stacks", format="dot")
    assert st == 400
    err = json.loads(body)["error"]
    assert all(n in err for n in names)


def test_svg_export(server):
    st, hd, body = get(server, "/api/v1/export", filename="perf-threads.stacks", format="svg")
    assert st == 200 and hd["Content-Type"].startswith("image/svg+xml")
    assert "attachment" in hd.get("Content-Disposition", "")
    root = ET.fromstring(body)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in root.iter(ns + "title")]
    assert any(t.startswith("hash_block (") for t in titles)
    # cpu-clock periods are nanoseconds: titles give the time with its unit, not the sum
    frames = [g.find(ns + "title").text for g in root.iter(ns + "g") if g.get("class") == "f"]
    assert frames and all(re.search(r" \(\d+(\.\d+)? (ns|µs|ms|s), \d+\.\d\d%\)$", t)
                          for t in frames), frames[:3]
    heading = next(t for t in root.iter(ns + "text") if t.get("id") == "title").text
    assert re.search(r", 0\.000 s – \d+\.000 s \(\d+\.\d{3} s\)$", heading), heading
    assert root.find(ns + "script") is not None
    rects = [r for r in root.iter(ns + "rect")]
    assert len(rects) > 5


def test_svg_export_of_hostile_names_is_well_formed(server, profdir):
    # symbols are bytes from the traced binary: invalid UTF-8, markup, and a long name
    # of two-byte characters that the frame label must shorten
    long_name = "\u00e9" * 300
    text = ("app 1/1 [000] 1.000000: 1 cpu-clock: \n"
            "\t1 bad\xffname (/srv/app)\n"
            "\t2 a<b>&c]]> (/srv/app)\n"
            "\t3 " + long_name + " (/srv/app)\n\n").encode("latin-1", "ignore")
    text = text.replace(long_name.encode("latin-1"), long_name.encode())
    (profdir / "hostile.perf").write_bytes(text)
    st, hd, body = get(server, "/api/v1/export", filename="hostile.perf", format="svg")
    assert st == 200
    root = ET.fromstring(body)        # raises on anything not well-formed
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in root.iter(ns + "title")]
    assert any(t.startswith("a<b>&c]]> (") for t in titles)
    assert any(t.startswith(long_name + " (") for t in titles)
    labels = [t.text for t in root.iter(ns + "text") if t.get("data-n") == long_name]
    assert labels and labels[0].endswith("..") and labels[0].startswith("\u00e9")


# --------------------------------------------------------------------------- changing files

def test_replaced_profile_is_indexed_again(server, profdir):
    p = profdir / "live.perf"
    shutil.copy(TESTDATA / "perf-threads.stacks", p)
    first = get_json(server, "/flamegraph/", filename="live.perf")
    assert norm(first) == norm(golden("perf-threads.stacks.flamegraph.json"))
    tmp = profdir / ".live.tmp"
    shutil.copy(TESTDATA / "perf-system.stacks", tmp)
    os.replace(tmp, p)
    second = get_json(server, "/flamegraph/", filename="live.perf")
    assert norm(second) == norm(golden("perf-system.stacks.flamegraph.json"))
    hm = get_json(server, "/heatmap/", filename="live.perf")
    assert hm == golden("perf-system.stacks.heatmap.json")


@pytest.mark.parametrize("how", ["rename", "in_place"])
def test_replaced_profile_with_same_size_and_mtime_is_indexed_again(server, profdir, how):
    """A profile replaced by hand with one of the same byte size and the same mtime (cp -p,
    touch -r, two writes in one timestamp tick) is served with its new content."""
    old = (TESTDATA / "perf-threads.stacks").read_bytes()
    new = old.replace(b"hash_block", b"hash_bloke")
    assert new != old and len(new) == len(old)
    p = profdir / "same.perf"
    p.write_bytes(old)
    st = os.stat(p)
    first = get_json(server, "/flamegraph/", filename="same.perf")
    assert "hash_block" in frames_of(first)
    if how == "rename":
        tmp = profdir / ".same.tmp"
        tmp.write_bytes(new)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, p)
    else:
        with open(p, "r+b") as f:
            f.write(new)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(p)
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    second = get_json(server, "/flamegraph/", filename="same.perf")
    assert "hash_bloke" in frames_of(second) and "hash_block" not in frames_of(second)
    assert total(second) == total(first)


def test_profile_appended_while_served(server, profdir):
    data = (TESTDATA / "perf-threads.stacks").read_bytes()
    p = profdir / "growing.perf"
    p.write_bytes(b"")
    results, errors = [], []
    done = threading.Event()

    def reader():
        while not done.is_set():
            st, _, body = get(server, "/flamegraph/", filename="growing.perf")
            st2, _, body2 = get(server, "/heatmap/", filename="growing.perf")
            if st != 200 or st2 != 200:
                errors.append((st, body[:200], st2, body2[:200]))
                continue
            results.append((total(json.loads(body)), json.loads(body2)))

    th = threading.Thread(target=reader)
    th.start()
    try:
        with open(p, "ab") as f:
            step = 7919       # cuts lines and samples anywhere
            for off in range(0, len(data), step):
                f.write(data[off:off + step])
                f.flush()
                time.sleep(0.02)
        time.sleep(0.3)
    finally:
        done.set()
        th.join()
    assert not errors, errors[:3]
    assert len(results) >= 2
    full = total(golden("perf-threads.stacks.flamegraph.json"))
    for n, hm in results:
        assert 0 <= n <= full + 1
        assert sum(map(sum, hm["values"])) <= full + 1
    # once complete, the answers are the complete file's
    assert norm(get_json(server, "/flamegraph/", filename="growing.perf")) == \
        norm(golden("perf-threads.stacks.flamegraph.json"))
    assert get_json(server, "/heatmap/", filename="growing.perf") == \
        golden("perf-threads.stacks.heatmap.json")


def test_concurrent_cold_requests_build_once(server, profdir):
    shutil.copy(TESTDATA / "perf-node-jit.stacks", profdir / "cold.perf")
    before = get_json(server, "/api/v1/stats")["cache"]["builds"]
    out = []

    def one():
        out.append(get(server, "/heatmap/", filename="cold.perf"))

    ths = [threading.Thread(target=one) for _ in range(16)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert [st for st, _, _ in out] == [200] * 16
    assert len({body for _, _, body in out}) == 1
    assert get_json(server, "/api/v1/stats")["cache"]["builds"] == before + 1
