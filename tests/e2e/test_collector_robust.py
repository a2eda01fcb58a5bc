"""fntrace-collector under stress and failure: 50 concurrent uploads of one name, kill -9
in the middle of a large upload, a client hanging up mid-body, a full filesystem, 200 idle
connections (slowloris)."""
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import time

import pytest

from collector_helpers import TRACE, snapshot, start_collector, tmp_files, traces, upload
from conftest import http


@contextlib.contextmanager
def small_tmpfs(mnt, options):
    """A tmpfs mounted at mnt with the given mount options, unmounted afterwards; skips
    the test where it cannot be mounted (not root, no tmpfs)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode().strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)

TEXT = TRACE.read_bytes()


def test_50_concurrent_uploads_of_one_name(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store)
    bodies = [TEXT + f"# upload {i}\n".encode() for i in range(50)]

    def one(i):
        return upload(d.url, bodies[i], name="same")

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert [s for s, _ in results] == [201] * 50
    ids = [doc["id"] for _, doc in results]
    assert len(set(ids)) == 50
    assert sorted(traces(store)) == sorted(ids)
    for i, (_, doc) in enumerate(results):
        assert (store / doc["id"]).read_bytes() == bodies[i]     # complete, and its own
    assert tmp_files(store) == []


def test_kill_9_mid_upload_leaves_no_partial_trace(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store)
    total = 50 << 20
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-name: big\r\n"
              b"Content-Length: %d\r\n\r\n" % total)
    chunk = (TEXT * 4)[: 1 << 20]
    sent = 0
    deadline = time.monotonic() + 60
    # send part of the body and wait until it is on disk in the temporary area
    while time.monotonic() < deadline:
        if sent < 8 << 20:
            s.sendall(chunk)
            sent += len(chunk)
        tmp = store / ".tmp"
        sizes = [p.stat().st_size for p in tmp.iterdir()] if tmp.exists() else []
        if sizes and max(sizes) >= 4 << 20:
            break
        time.sleep(0.01)
    assert tmp_files(store), "the upload never reached the temporary area"
    d.stop(sig=signal.SIGKILL)
    s.close()
    assert traces(store) == []                 # nothing partial is visible
    assert len(tmp_files(store)) == 1          # only debris in the temporary area
    d2 = start_collector(daemon, store)
    assert tmp_files(store) == []              # cleaned at start
    status, _, body = http("GET", d2.url + "/api/v1/traces")
    assert status == 200 and body.strip() == b"[]"
    assert upload(d2.url, TEXT)[0] == 201


def test_full_filesystem_is_507_and_leaves_nothing(daemon, tmp_path):
    with small_tmpfs(tmp_path / "small", "size=2m") as mnt:
        store = mnt / "traces"
        d = start_collector(daemon, store)
        assert upload(d.url, TEXT)[0] == 201           # 267 KB fits
        before = snapshot(store)
        big = TEXT * 12                                # 3.2 MB does not
        status, doc = upload(d.url, big)                 # an existing name
        assert status == 507, doc
        assert snapshot(store) == before
        status, doc = upload(d.url, big, name="newname")  # a new one: no directory left
        assert status == 507, doc
        assert "disk is full" in doc["error"]
        assert snapshot(store) == before               # nothing left, temp area included
        assert tmp_files(store) == []
        assert http("GET", d.url + "/healthz")[0] == 200      # still serving
        status, doc = upload(d.url, TEXT[:100000])            # and space came back
        assert status == 201, doc
        m = http("GET", d.url + "/metrics")[2].decode()
        assert 'fntrace_collector_rejects_total{reason="disk_full"} 2' in m
        d.stop()


def test_200_idle_connections_do_not_starve_uploads(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store)
    idle = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            # half of them stop inside the headers, half inside a body
            if i % 2:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-na")
            else:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-name: slow\r\n"
                          b"Content-Length: 100000\r\n\r\n# ====")
            idle.append(s)
        time.sleep(0.5)
        t0 = time.monotonic()

        def one(i):
            return upload(d.url, TEXT, name=f"busy{i}")

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, range(20)))
        assert [s for s, _ in results] == [201] * 20
        assert time.monotonic() - t0 < 20               # generous: no 30 s stalls
        assert http("GET", d.url + "/healthz")[0] == 200
        # the idle connections are still open (not dropped to make room)
        alive = 0
        for s in idle:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        assert alive >= 190
    finally:
        for s in idle:
            s.close()
    assert len(traces(store)) == 20


def test_client_gone_mid_upload_leaves_nothing(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store)
    before = snapshot(store)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-name: gone\r\nContent-Length: 5000000\r\n\r\n")
    s.sendall(TEXT)                                   # a quarter of the body, then hang up
    deadline = time.monotonic() + 20
    while not tmp_files(store) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tmp_files(store), "the upload never reached the temporary area"
    s.close()
    deadline = time.monotonic() + 20
    while snapshot(store) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snapshot(store) == before
    m = http("GET", d.url + "/metrics")[2].decode()
    assert 'fntrace_collector_rejects_total{reason="aborted"} 1' in m


def test_no_inodes_left_is_507(daemon, tmp_path):
    """The temporary file itself cannot be created (a filesystem out of inodes)."""
    with small_tmpfs(tmp_path / "few-inodes", "size=4m,nr_inodes=16") as mnt:
        store = mnt / "traces"
        d = start_collector(daemon, store)
        assert upload(d.url, TEXT[:5000], name="fill")[0] == 201
        n = 0
        while True:                                   # use up every inode left
            try:
                (store / "fill" / f"x{n}.perf").write_bytes(b"")
                n += 1
            except OSError:
                break
        before = snapshot(store)
        for _ in range(3):
            status, doc = upload(d.url, TEXT[:5000], name="fill")
            assert status == 507, doc
        assert snapshot(store) == before
        for p in (store / "fill").glob("x*.perf"):
            p.unlink()
        assert upload(d.url, TEXT[:5000], name="fill")[0] == 201    # and it recovers
        d.stop()
