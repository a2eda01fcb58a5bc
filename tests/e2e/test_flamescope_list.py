"""fntrace-flamescope's profile listing, GET /api/v1/profiles: each trace with its sample
count, first-to-last-sample duration, invocation count and upload time, sorted, filtered
and paged (X-Total-Count, X-Next-Offset); traces without an index are indexed in the
background and listed once they are; the summaries read from index headers equal those
of a parse; FlameScope's /profile/ keeps upstream's two fields."""
import json
import os
import shutil
import time
import urllib.parse

import pytest

from conftest import TESTDATA, binary, free_port, http

PROFILES = ["perf-node-jit.stacks", "perf-threads.stacks", "flamescope-perf.test01",
            "perf-system.stacks"]


@pytest.fixture
def profdir(tmp_path):
    d = tmp_path / "traces"
    (d / "fn").mkdir(parents=True)
    for i, p in enumerate(PROFILES):
        shutil.copy(TESTDATA / p, d / "fn" / p)
        t = 1790000000 + 60 * i          # uploaded a minute apart, in this order
        os.utime(d / "fn" / p, (t, t))
    (d / "idle.perf").write_text("# ========\n# captured on : x\n# ========\n"
                                 "# fntrace invocation : id=a fn=f start=1.0 end=1.5\n")
    os.utime(d / "idle.perf", (1789999000, 1789999000))
    (d / "junk.perf").write_bytes(b"\x00\x01 not a profile\n")
    os.utime(d / "junk.perf", (1789998000, 1789998000))
    return d


def start(daemon, profdir, *extra):
    port = free_port()
    return daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(profdir),
                   *extra], port)


def listing(srv, **params):
    q = urllib.parse.urlencode(params)
    st, hdrs, body = http("GET", f"{srv.url}/api/v1/profiles" + (f"?{q}" if q else ""))
    return st, {k.lower(): v for k, v in dict(hdrs).items()}, body


def settled(srv, done=("ready", "failed"), **params):
    """The listing once no trace on it is still being indexed (bounded wait)."""
    deadline = time.monotonic() + 20
    while True:
        st, hdrs, body = listing(srv, **params)
        assert st == 200, body
        rows = json.loads(body)
        if all(r["index"] in done for r in rows) or time.monotonic() > deadline:
            return hdrs, rows
        time.sleep(0.1)


def test_fields_sorting_and_paging(daemon, profdir):
    srv = start(daemon, profdir)
    hdrs, rows = settled(srv, limit=100)
    assert hdrs["x-total-count"] == "6" and "x-next-offset" not in hdrs
    by = {r["filename"]: r for r in rows}
    # newest first by default: the upload (mtime) order
    assert [r["filename"] for r in rows] == [f"fn/{p}" for p in reversed(PROFILES)] + \
        ["idle.perf", "junk.perf"]
    threads = by["fn/perf-threads.stacks"]
    assert threads["index"] == "ready" and threads["name"] == "fn"
    assert threads["uploaded"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                time.gmtime(1790000000 + 60))
    assert threads["bytes"] == (TESTDATA / "perf-threads.stacks").stat().st_size
    # the sample count and span are the trace's own: count the sample lines
    text = (TESTDATA / "perf-threads.stacks").read_text()
    times = [float(ln.split(":")[0].split()[-1]) for ln in text.splitlines()
             if ln and not ln[0].isspace() and not ln.startswith("#") and "cpu-clock" in ln]
    assert threads["samples"] == len(times)
    assert threads["duration"] == pytest.approx(max(times) - min(times), abs=2e-6)
    assert threads["invocations"] == 0
    idle = by["idle.perf"]
    assert (idle["index"], idle["samples"], idle["duration"], idle["invocations"]) == \
        ("ready", 0, 0, 1)
    junk = by["junk.perf"]
    assert junk["index"] == "failed" and junk["samples"] is None
    # every sort, both ways: the order of the values, a trace without a summary last
    for key in ("samples", "duration", "invocations"):
        for order in ("asc", "desc"):
            _, got = settled(srv, sort=key, order=order)
            vals = [r[key] for r in got if r["index"] == "ready"]
            assert vals == sorted(vals, reverse=order == "desc"), (key, order)
            assert got[-1]["filename"] == "junk.perf"
    _, got = settled(srv, sort="name")
    assert [r["filename"] for r in got] == sorted(r["filename"] for r in rows)
    _, got = settled(srv, sort="time", order="asc")
    assert [r["filename"] for r in got] == list(reversed([r["filename"] for r in rows]))
    # pages: offset/limit, the next offset while there is one
    seen = []
    off = 0
    while off is not None:
        hdrs, page = settled(srv, sort="name", offset=off, limit=4)
        assert len(page) <= 4
        seen += [r["filename"] for r in page]
        off = int(hdrs["x-next-offset"]) if "x-next-offset" in hdrs else None
    assert seen == sorted(r["filename"] for r in rows)
    # filters: a substring of the id, the function
    _, got = settled(srv, q="THREADS")
    assert [r["filename"] for r in got] == ["fn/perf-threads.stacks"]
    hdrs, got = settled(srv, name="fn")
    assert hdrs["x-total-count"] == "4"
    # FlameScope's listing is upstream's: two fields
    st, _, body = http("GET", f"{srv.url}/profile/")
    assert all(set(e) == {"filename", "type"} for e in json.loads(body))


@pytest.mark.parametrize("query,words", [
    ({"sort": "size"}, "sort must be"), ({"order": "up"}, "order must be"),
    ({"limit": "0"}, "limit between"), ({"limit": "10001"}, "limit between"),
    ({"offset": "-1"}, "offset must be")])
def test_bad_arguments_are_400(daemon, profdir, query, words):
    srv = start(daemon, profdir)
    st, _, body = listing(srv, **query)
    assert st == 400 and words in json.loads(body)["error"]


def test_summaries_from_index_headers_equal_those_of_a_parse(daemon, profdir):
    """Without index files the listing knows a trace once it was opened (parsed); with
    them, from the index header alone.  Both give the same fields."""
    fresh = start(daemon, profdir, "--no-index")
    anything = ("ready", "failed", "none")
    _, rows = settled(fresh, anything)
    assert {r["index"] for r in rows} == {"none"}        # nothing parsed for a listing
    for r in rows:
        http("GET", f"{fresh.url}/heatmap/?filename={urllib.parse.quote(r['filename'])}")
    _, parsed = settled(fresh, anything)
    fresh.stop()
    assert not (profdir / ".index").exists()
    writer = start(daemon, profdir)
    settled(writer)                                      # indexes in the background
    st, _, body = http("GET", f"{writer.url}/api/v1/stats")
    assert json.loads(body)["list"]["background_written"] == 5
    writer.stop()
    reader = start(daemon, profdir)
    _, loaded = settled(reader)
    st, _, body = http("GET", f"{reader.url}/api/v1/stats")
    s = json.loads(body)
    # from the headers: no trace parsed or loaded whole for the listing
    assert s["index"]["loaded"] == 0 and s["cache"]["builds"] == 0
    strip = [{k: v for k, v in r.items() if k != "index"} for r in parsed
             if r["filename"] != "junk.perf"]
    assert strip == [{k: v for k, v in r.items() if k != "index"} for r in loaded
                     if r["filename"] != "junk.perf"]
