"""No silent loss in the tracer's spool (issue: evictions were silent, left_in_spool was
wrong, and a trace bigger than the spool was dropped).  The collector is down (nothing
listens), so every upload goes to the spool.  Bounded: a few seconds."""
import re
import subprocess

from conftest import TESTDATA, binary, free_port

A = TESTDATA / "perf-threads.stacks"
B = TESTDATA / "perf-system.stacks"


def upload(spool, max_bytes, path, name):
    url = f"http://127.0.0.1:{free_port()}/"          # nothing listens there
    return subprocess.run([binary("fntrace"), "upload", "--name", name, "--retries", "1",
                           "--spool", str(spool), "--spool-max-bytes", str(max_bytes),
                           url, str(path)], capture_output=True, text=True, timeout=60)


def entries(spool):
    return sorted(p.name for p in spool.iterdir() if not p.name.startswith("."))


def test_eviction_is_logged_with_name_and_size_and_left_is_real(tmp_path):
    spool = tmp_path / "spool"
    a, b = A.stat().st_size, B.stat().st_size
    cap = max(a, b) + 16                           # room for one of them, not both
    r1 = upload(spool, cap, A, "first")
    assert r1.returncode == 75, r1.stderr
    assert "left_in_spool=1" in r1.stderr, r1.stderr
    r2 = upload(spool, cap, B, "second")
    assert r2.returncode == 75, r2.stderr
    m = re.search(r"spool entry evicted.*name=(\S+) bytes=(\d+)", r2.stderr)
    assert m, r2.stderr
    assert m.group(1) == "first" and int(m.group(2)) == a
    assert "evicted=1" in r2.stderr
    assert "left_in_spool=1" in r2.stderr, r2.stderr
    assert len(entries(spool)) == 1 and ".second." in entries(spool)[0]


def test_trace_bigger_than_spool_is_kept_in_a_named_file(tmp_path):
    spool = tmp_path / "spool"
    r = upload(spool, 1024, A, "huge")
    assert r.returncode != 0
    m = re.search(r"kept in (\S+?),", r.stderr)
    assert m, r.stderr
    kept = m.group(1)
    with open(kept, "rb") as f:
        assert f.read() == A.read_bytes()
