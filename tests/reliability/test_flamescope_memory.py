"""FlameScope's memory (issue: a profile peaked at 7.4 GB while indexing, was evicted at
once and rebuilt on every request; a gzip bomb cost 32 s per request, uncached).  The
build stops at the --cache budget with 507, a bomb stops at --max-profile with 413, and
both refusals are cached: the next request does not build again.  Bounded: seconds."""
import json
import subprocess
import time

from conftest import binary, free_port, http
from test_gzip_bomb import bomb


def stats(url):
    return json.loads(http("GET", url + "/api/v1/stats")[2])["cache"]


def start(daemon, d, *args):
    port = free_port()
    return daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d), *args],
                  port)


def test_index_over_the_cache_budget_is_507_and_cached(daemon, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    with open(d / "big.perf", "wb") as f:
        subprocess.run([binary("gen_profile"), "16"], stdout=f, check=True, timeout=60)
    f = start(daemon, d, "--cache", "1M")
    url = f.url + "/api/v1/stats?filename=big.perf"
    status, _, body = http("GET", f.url + "/heatmap/?filename=big.perf")
    assert status == 507, body
    assert b"budget" in body
    t = time.monotonic()
    assert http("GET", f.url + "/heatmap/?filename=big.perf")[0] == 507
    assert time.monotonic() - t < 0.5
    s = stats(f.url)
    assert s["builds"] == 1 and s["refusals"] == 1, s
    # with a budget that fits, the same profile is served
    f.stop()
    g = start(daemon, d, "--cache", "1G")
    assert http("GET", g.url + "/heatmap/?filename=big.perf")[0] == 200
    del url


def test_gzip_bomb_profile_is_413_once_then_cached(daemon, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    (d / "bomb.perf.gz").write_bytes(bomb(256 << 20))
    f = start(daemon, d, "--max-profile", "16M")
    status, _, body = http("GET", f.url + "/heatmap/?filename=bomb.perf.gz")
    assert status == 413, body
    t = time.monotonic()
    assert http("GET", f.url + "/heatmap/?filename=bomb.perf.gz")[0] == 413
    assert time.monotonic() - t < 0.5
    s = stats(f.url)
    assert s["builds"] == 1 and s["refusals"] == 1, s
