"""One sample at t = 2^32 seconds among samples near t = 716 (issue: it turned the whole
heatmap into a 400).  The heatmap shows the densest stretch that fits the cell limit,
says how many samples it left out, and its columns still name profile seconds, so the
flame graph of a column works.  Bounded: a second."""
import json

from conftest import TESTDATA, binary, free_port, http

OUTLIER = """worker 19193 4294967296.000000:    5000000 cpu-clock:pppH: 
\t            1217 hash_block+0x27 (/srv/fn/worker)
\t            135a thread_main+0x6a (/srv/fn/worker)

"""


def test_far_outlier_keeps_the_heatmap(daemon, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    (d / "plain.perf").write_text((TESTDATA / "perf-threads.stacks").read_text())
    (d / "outlier.perf").write_text((TESTDATA / "perf-threads.stacks").read_text() + OUTLIER)
    port = free_port()
    f = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d)], port)
    status, _, body = http("GET", f.url + "/heatmap/?filename=outlier.perf")
    assert status == 200, body
    hm = json.loads(body)
    plain = json.loads(http("GET", f.url + "/heatmap/?filename=plain.perf")[2])
    assert hm["clipped"] == 1
    assert hm["values"] == plain["values"] and hm["columns"] == plain["columns"]
    # a column's flame graph still answers
    col = hm["columns"][0]
    status, _, body = http("GET", f.url + f"/flamegraph/?filename=outlier.perf&start={col}"
                                          f"&end={col + 1}")
    assert status == 200, body
