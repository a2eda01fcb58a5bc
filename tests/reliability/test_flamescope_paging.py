"""Paging of /api/v1/invocations (issue: 1M invocation lines took 8.8 s and 153 MB on
every request).  A profile of 30,000 invocations answers one page (10,000 by default)
with X-Total-Count and X-Next-Offset; pages join up to the whole list.  Bounded: seconds."""
import json

from conftest import TESTDATA, binary, free_port, http

N = 30000


def profile_with_invocations(path):
    text = (TESTDATA / "perf-threads.stacks").read_text()
    head = "".join(f"# fntrace invocation : id=inv{i} fn=f start={1000 + i * 0.001:.6f} "
                   f"end={1000 + i * 0.001 + 0.0005:.6f} status=200\n" for i in range(N))
    path.write_text(head + text)


def test_invocations_are_paged(daemon, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    profile_with_invocations(d / "many.perf")
    port = free_port()
    f = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d)], port)
    url = f.url + "/api/v1/invocations?filename=many.perf"
    status, h, body = http("GET", url)
    assert status == 200, body
    first = json.loads(body)
    assert len(first) == 10000 and first[0]["id"] == "inv0"
    assert h["X-Total-Count"] == str(N) and h["X-Next-Offset"] == "10000"
    ids = [v["id"] for v in first]
    off = 10000
    while off is not None:
        status, h, body = http("GET", f"{url}&offset={off}&limit=7000")
        assert status == 200
        ids += [v["id"] for v in json.loads(body)]
        off = h.get("X-Next-Offset")
    assert ids == [f"inv{i}" for i in range(N)]
    assert http("GET", url + "&limit=0")[0] == 400
    assert http("GET", url + "&limit=1000000")[0] == 400
