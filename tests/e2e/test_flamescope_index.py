"""fntrace-flamescope's index files: every answer served from a loaded index file is
byte-identical to the answer of a fresh text parse, across every endpoint and every test
profile (plain, gzip, with invocations and threads); hostile index files (truncated,
bit-flipped, wrong version, a count of 2^40 entries, a trace replaced under its index,
a folder in the index's place) are refused, the trace parsed again and the index
rewritten, and the server stays up; listings never show index files."""
import gzip
import json
import os
import shutil
import struct
import threading
import time
import urllib.parse

import pytest

from conftest import TESTDATA, binary, free_port, http, pb_fields

PROFILES = ["perf-node-jit.stacks", "perf-threads.stacks", "flamescope-perf.test01",
            "perf-system.stacks"]
THREADS = "threads.perf"
N_OFFSET = 128          # the sample count in the index header (flamescope/pindex.c)
VERSION_OFFSET = 16
SECTIONS_OFFSET = 224   # the section table: (offset, length) pairs, the sample times first


def threads_text():
    """Invocations naming their threads, and one without a thread."""
    out = ["# ========", "# captured on : Sat Nov 21 10:15:00 2026", "# ========", "#",
           "# fntrace invocation : id=a fn=left start=100.000000000 end=100.500000000 "
           "status=200 tid=11 trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
           "# fntrace invocation : id=b fn=right start=100.200000000 end=100.900000000 "
           "status=500 tid=12",
           "# fntrace invocation : id=c fn=all start=100.100000000"]
    for k in range(100):
        for tid, leaf in ((11, "left"), (12, "right")):
            t = 100.0 + k * 0.01 + (tid - 11) * 0.001
            out += [f"fnhandler 10/{tid} [000] {t:.6f}:    {5000000 + k} cpu-clock: ",
                    f"\t    4010 {leaf}+0x10 (/srv/fn/handler)",
                    "\t    4030 start_thread+0x30 (/usr/lib/libc.so.6)", ""]
    return "\n".join(out) + "\n"


@pytest.fixture
def profdir(tmp_path):
    d = tmp_path / "traces"
    d.mkdir()
    for p in PROFILES:
        shutil.copy(TESTDATA / p, d / p)
    (d / "sub").mkdir()
    with gzip.open(d / "sub" / "jit.perf.gz", "wb") as f:
        f.write((TESTDATA / "perf-node-jit.stacks").read_bytes())
    (d / THREADS).write_text(threads_text())
    return d


def start(daemon, profdir, *extra):
    port = free_port()
    return daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(profdir),
                   *extra], port)


def get(srv, path, **params):
    q = urllib.parse.urlencode(params)
    return http("GET", f"{srv.url}{path}" + (f"?{q}" if q else ""))


def stats(srv):
    st, _, body = get(srv, "/api/v1/stats")
    assert st == 200
    return json.loads(body)["index"]


def requests_for(srv, names):
    """Every endpoint, for every profile: FlameScope's, /api/v1's, every export format
    of the whole profile, of a range and of each invocation."""
    st, _, body = get(srv, "/api/v1/exports")
    formats = [f["name"] for f in json.loads(body)]
    assert len(formats) >= 4
    # (/api/v1/profiles is not here: it says whether each trace is indexed yet, and
    # lists in the background; test_flamescope_list.py compares its summaries)
    reqs = [("/profile/", {}),
            ("/api/v1/invocations", {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})]
    for n in names:
        f = {"filename": n}
        reqs += [("/heatmap/", f), ("/heatmap/", {**f, "rows": "7"}),
                 ("/flamegraph/", f), ("/flamegraph/", {**f, "start": "0.5", "end": "1.5"}),
                 ("/differential/", {**f, "compareFilename": PROFILES[1]}),
                 ("/elided/", {**f, "compareFilename": PROFILES[2]}),
                 ("/api/v1/invocations", f)]
        for fmt in formats:
            reqs += [("/api/v1/export", {**f, "format": fmt}),
                     ("/api/v1/export", {**f, "format": fmt, "start": "0.5", "end": "1"})]
        st, _, body = get(srv, "/api/v1/invocations", **f)
        reqs.append(("/api/v1/invocations",
                     {**f, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}))
        for inv in json.loads(body) if st == 200 else []:
            reqs.append(("/api/v1/flamegraph", {**f, "invocation": inv["id"]}))
            for fmt in formats:
                reqs.append(("/api/v1/export", {**f, "format": fmt, "invocation": inv["id"]}))
    return reqs


def answers(srv, reqs):
    return [get(srv, path, **params)[::2] for path, params in reqs]


def test_loaded_index_answers_byte_for_byte_like_a_fresh_parse(daemon, profdir):
    names = PROFILES + ["sub/jit.perf.gz", THREADS]
    fresh = start(daemon, profdir, "--no-index")
    reqs = requests_for(fresh, names)
    want = answers(fresh, reqs)
    assert stats(fresh)["enabled"] is False
    fresh.stop()
    assert not (profdir / ".index").exists()
    writer = start(daemon, profdir)
    assert answers(writer, reqs) == want
    assert stats(writer)["written"] == len(names)
    writer.stop()
    for n in names:
        assert (profdir / ".index" / (n + ".fsidx")).stat().st_size > 0
    reader = start(daemon, profdir)
    got = answers(reader, reqs)
    s = stats(reader)
    assert (s["loaded"], s["written"], s["refused"]) == (len(names), 0, 0)
    for (path, params), g, w in zip(reqs, got, want):
        assert g == w, (path, params)
    # listings never show the index folder
    st, _, body = get(reader, "/profile/")
    assert sorted(e["filename"] for e in json.loads(body)) == sorted(names)


def bit_flip(data):
    b = bytearray(data)
    b[len(b) // 2] ^= 0x10
    return bytes(b)


def bit_flip_in(section, at):
    """A bit of byte `at` of a section: 0 the sample times (what a heatmap reads), 6
    the FlameScope trie's parents (what a flame graph reads)."""
    def damage(data):
        off, = struct.unpack_from("<Q", data, SECTIONS_OFFSET + 16 * section)
        b = bytearray(data)
        b[off + at] ^= 0x04
        return bytes(b)
    return damage


def wrong_version(data):
    b = bytearray(data)
    b[VERSION_OFFSET] += 1
    return bytes(b)


def huge_count(data):
    return data[:N_OFFSET] + struct.pack("<Q", 1 << 40) + data[N_OFFSET + 8:]


DAMAGES = {
    "truncated": lambda d: d[: len(d) // 3],
    "header_only": lambda d: d[:100],
    "empty": lambda d: b"",
    "bit_flipped": bit_flip,
    "bit_flipped_in_times": bit_flip_in(0, 2),
    "bit_flipped_in_trie": bit_flip_in(6, 5),
    "wrong_version": wrong_version,
    "count_2_40": huge_count,
    "random_bytes": lambda d: os.urandom(len(d)),
}


@pytest.mark.parametrize("how", sorted(DAMAGES))
def test_hostile_index_is_refused_and_rebuilt(daemon, profdir, how):
    """Each part of an index is checked on its first use: a bit flipped in the trie is
    refused before the flame graph reads it, after the heatmap was served from the
    sample times; one in the sample times before the heatmap reads them; every other
    damage (but a flipped bit) when the index is opened."""
    name = "perf-threads.stacks"
    idx = profdir / ".index" / (name + ".fsidx")
    srv = start(daemon, profdir)
    want = [get(srv, p, filename=name)[::2] for p in ("/heatmap/", "/flamegraph/")]
    srv.stop()
    good = idx.read_bytes()
    idx.write_bytes(DAMAGES[how](good))
    srv = start(daemon, profdir)
    got = [get(srv, "/heatmap/", filename=name)[::2]]
    lazy = how.startswith("bit_flipped")        # opened, refused on first use
    if how != "bit_flipped":                    # (the middle: the part it falls in)
        assert stats(srv)["refused"] == (0 if how == "bit_flipped_in_trie" else 1)
    got.append(get(srv, "/flamegraph/", filename=name)[::2])
    assert got == want
    s = stats(srv)
    assert (s["loaded"], s["refused"], s["written"]) == (1 if lazy else 0, 1, 1)
    assert "index file refused" in srv.log()
    assert get(srv, "/profile/")[0] == 200          # still up
    srv.stop()
    assert idx.read_bytes() == good                 # rewritten whole
    srv = start(daemon, profdir)
    assert [get(srv, p, filename=name)[::2] for p in ("/heatmap/", "/flamegraph/")] == want
    assert stats(srv)["loaded"] == 1


def test_damage_found_on_first_use_by_many_requests_at_once(daemon, profdir):
    """A trie damaged under an index the heatmap loaded: eight flame graph and export
    requests at once all find it on first use, each is answered from the one rebuilt
    index, the server stays up and the file is rewritten whole."""
    name = "perf-threads.stacks"
    idx = profdir / ".index" / (name + ".fsidx")
    srv = start(daemon, profdir)
    paths = ["/flamegraph/", "/api/v1/export?format=folded&filename=" + name] * 4
    want = [get(srv, "/flamegraph/", filename=name)[::2],
            http("GET", f"{srv.url}/api/v1/export?format=folded&filename={name}")[::2]]
    srv.stop()
    good = idx.read_bytes()
    idx.write_bytes(bit_flip_in(6, 5)(good))
    srv = start(daemon, profdir)
    assert get(srv, "/heatmap/", filename=name)[0] == 200
    assert stats(srv)["refused"] == 0
    got = [None] * len(paths)

    def one(i):
        p = paths[i]
        got[i] = (get(srv, p, filename=name) if "?" not in p else http("GET", srv.url + p))[::2]
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want[i % 2] for i in range(len(paths))]
    s = stats(srv)
    assert s["loaded"] == 1 and s["refused"] >= 1 and s["written"] >= 1
    assert get(srv, "/profile/")[0] == 200          # still up
    srv.stop()
    assert idx.read_bytes() == good                 # rewritten whole


def test_trace_replaced_under_its_index(daemon, profdir):
    name = "perf-threads.stacks"
    srv = start(daemon, profdir)
    old = get(srv, "/flamegraph/", filename=name)[2]
    srv.stop()
    st = os.stat(profdir / name)
    # another trace of the same size and mtime: only the content (and inode) differ
    other = bytearray((TESTDATA / "perf-system.stacks").read_bytes())
    size = st.st_size
    other = (other * (size // len(other) + 1))[:size]
    tmp = profdir / "replacement.tmp"
    tmp.write_bytes(other)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(tmp, profdir / name)
    fresh = start(daemon, profdir, "--no-index")
    want = get(fresh, "/flamegraph/", filename=name)[::2]
    fresh.stop()
    srv = start(daemon, profdir)
    got = get(srv, "/flamegraph/", filename=name)[::2]
    assert got == want and got[1] != old
    s = stats(srv)
    assert (s["loaded"], s["refused"], s["written"]) == (0, 1, 1)


def test_a_folder_in_the_index_place_is_served_without_an_index(daemon, profdir):
    name = "perf-system.stacks"
    (profdir / ".index" / (name + ".fsidx")).mkdir(parents=True)
    srv = start(daemon, profdir)
    st, _, body = get(srv, "/heatmap/", filename=name)
    assert st == 200 and json.loads(body)["values"]
    s = stats(srv)
    assert (s["refused"], s["written"], s["write_failed"]) == (1, 0, 1)


def test_index_dir_option_puts_the_files_elsewhere(daemon, profdir, tmp_path):
    elsewhere = tmp_path / "idx"
    srv = start(daemon, profdir, "--index-dir", str(elsewhere))
    assert get(srv, "/heatmap/", filename="sub/jit.perf.gz")[0] == 200
    assert (elsewhere / "sub" / "jit.perf.gz.fsidx").is_file()
    assert not (profdir / ".index").exists()


def test_pprof_duration_is_the_sample_span_plus_one_period(daemon, profdir):
    """pprof's Duration: first to last sample plus one period, not whole seconds."""
    srv = start(daemon, profdir)
    text = (profdir / THREADS).read_text()
    times, periods = [], []
    for line in text.splitlines():
        if line.startswith("fnhandler"):
            secs, frac = line.split()[3].rstrip(":").split(".")
            times.append(int(secs) * 10**9 + int(frac.ljust(9, "0")))
            periods.append(int(line.split()[4]))
    for params, sel in (({}, lambda t: True),
                        ({"start": "0.2", "end": "0.5"},
                         lambda t: 100.2e9 <= t <= 100.5e9)):
        st, _, body = get(srv, "/api/v1/export", filename=THREADS, format="pprof", **params)
        assert st == 200
        f = pb_fields(gzip.decompress(body))
        picked = [(t, p) for t, p in zip(times, periods) if sel(t)]
        ts = [t for t, _ in picked]
        period = sum(p for _, p in picked) // len(picked)
        assert f[9] == [min(ts)]
        assert f[10] == [max(ts) - min(ts) + period]


def test_collector_writes_the_index_after_commit(daemon, tmp_path):
    """An uploaded trace gets its index file from the collector, off the request path;
    fntrace-flamescope then loads it on the first open instead of parsing."""
    store = tmp_path / "store"
    port = free_port()
    coll = daemon([binary("fntrace-collector"), "--port", str(port), "--dir", str(store)],
                  port)
    body = (TESTDATA / "perf-threads.stacks").read_bytes()
    st, _, resp = http("POST", coll.url + "/", body, {"X-name": "fn"})
    assert st == 201, resp
    tid = json.loads(resp)["id"]
    idx = store / ".index" / (tid + ".fsidx")
    for _ in range(200):
        if idx.exists():
            break
        time.sleep(0.05)
    assert idx.is_file()
    fresh = start(daemon, store, "--no-index")
    want = [get(fresh, p, filename=tid)[::2] for p in ("/heatmap/", "/flamegraph/")]
    viewer = start(daemon, store)
    got = [get(viewer, p, filename=tid)[::2] for p in ("/heatmap/", "/flamegraph/")]
    assert got == want and got[0][0] == 200
    s = stats(viewer)
    assert (s["loaded"], s["written"], s["refused"]) == (1, 0, 0)
    st, _, body = get(viewer, "/profile/")
    assert [e["filename"] for e in json.loads(body)] == [tid]


def test_collector_with_no_index_writes_none(daemon, tmp_path):
    store = tmp_path / "store"
    port = free_port()
    coll = daemon([binary("fntrace-collector"), "--port", str(port), "--dir", str(store),
                   "--no-index"], port)
    st, _, _ = http("POST", coll.url + "/", (TESTDATA / "perf-threads.stacks").read_bytes(),
                    {"X-name": "fn"})
    assert st == 201
    coll.stop()                      # the worker finishes before the collector exits
    assert not (store / ".index").exists()


def test_speedscope_has_one_profile_per_thread(daemon, profdir):
    """speedscope's export: one sampled profile per thread, named "comm tid", in the
    order the threads first appear, each with that thread's samples only."""
    srv = start(daemon, profdir)
    st, _, body = get(srv, "/api/v1/export", filename=THREADS, format="speedscope")
    assert st == 200
    doc = json.loads(body)
    frames = [f["name"] for f in doc["shared"]["frames"]]
    profs = doc["profiles"]
    assert [p["name"] for p in profs] == ["fnhandler 11", "fnhandler 12"]
    for p, leaf in zip(profs, ("left", "right")):
        names = {frames[i] for s in p["samples"] for i in s}
        assert leaf in names and ({"left", "right"} - {leaf}).isdisjoint(names)
        assert sum(p["weights"]) == p["endValue"]
        want = sum(5000000 + k for k in range(100))
        assert p["endValue"] == want
