"""Gzip bombs at the collector (issue: 10 MB inflating to 10 GB cost 22 s of CPU and was
stored).  A 1 MB gzip body of perf-script text that inflates to 1 GiB must be refused
with 413 once it passes --max-inflated (default 8 x --max-body), and nothing stored.
Bounded: seconds."""
import time
import zlib

from collector_helpers import TRACE, start_collector, traces
from conftest import http


def bomb(inflated=1 << 30):
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = TRACE.read_bytes()
    block = head[-4096:] * 256                    # 1 MiB of real-looking samples
    out = [z.compress(head)]
    for _ in range(inflated // len(block)):
        out.append(z.compress(block))
    out.append(z.flush())
    return b"".join(out)


def test_gzip_bomb_is_refused_with_413_and_not_stored(daemon, tmp_path):
    body = bomb()
    assert len(body) < 8 << 20
    store = tmp_path / "store"
    c = start_collector(daemon, store, "--max-body", "8M")      # inflated limit 64M
    t = time.monotonic()
    status, _, resp = http("POST", c.url + "/", body,
                           {"X-name": "bomb", "Content-Encoding": "gzip"}, timeout=60)
    took = time.monotonic() - t
    assert status == 413, resp
    assert b"max-inflated" in resp
    assert traces(store) == []
    assert took < 5.0
    # a normal gzip upload still goes through
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    ok = gz.compress(TRACE.read_bytes()) + gz.flush()
    assert http("POST", c.url + "/", ok, {"X-name": "fine", "Content-Encoding": "gzip"})[0] == 201
