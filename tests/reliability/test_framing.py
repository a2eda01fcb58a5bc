"""Request framing tricks (issue, minor items): two different Content-Length headers are
refused with 400 before anything is stored.  Bounded: a second."""
from collector_helpers import raw, start_collector, traces


def test_two_different_content_lengths_are_400(daemon, tmp_path):
    store = tmp_path / "store"
    c = start_collector(daemon, store)
    req = (b"POST / HTTP/1.1\r\nHost: x\r\nX-name: smuggle\r\n"
           b"Content-Length: 5\r\nContent-Length: 9\r\n\r\nhello1234")
    status, body = raw(c.port, req)
    assert status == 400, body
    assert traces(store) == []


def test_store_whose_tmp_is_a_symlink_is_refused_at_startup(tmp_path):
    import subprocess
    from conftest import binary, free_port
    store = tmp_path / "store"
    store.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (store / ".tmp").symlink_to(elsewhere)
    r = subprocess.run([binary("fntrace-collector"), "--port", str(free_port()),
                        "--dir", str(store)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "symbolic link" in r.stderr
    assert list(elsewhere.iterdir()) == []
