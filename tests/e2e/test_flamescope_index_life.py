"""The life of flamescope's index files beside their traces: a trace deleted through the
collector takes its index with it, a trace removed from the folder by hand has its index
collected (on the next request for it, and when fntrace-flamescope starts), and a blob
of the azblob store streamed from Azurite without a file descriptor gets an index too,
keyed on its ETag: a later open with an empty blob cache loads it, and answers as a
fresh parse does."""
import json
import time
import urllib.parse

import pytest

from conftest import TESTDATA, binary, free_port, http
from test_store_azblob import AZURITE, azurite, collector as az_collector  # noqa: F401

BODY = (TESTDATA / "perf-threads.stacks").read_bytes()


def flamescope(daemon, *args):
    port = free_port()
    return daemon([binary("fntrace-flamescope"), "--port", str(port), "--quiet", *args], port,
                  name="fntrace-flamescope")


def get(srv, path, **params):
    return http("GET", f"{srv.url}{path}?{urllib.parse.urlencode(params)}")


def index_stats(srv):
    st, _, body = http("GET", f"{srv.url}/api/v1/stats")
    assert st == 200
    return json.loads(body)["index"]


def wait_for(pred, what, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_collector_delete_removes_the_index(daemon, tmp_path):
    store = tmp_path / "store"
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    port = free_port()
    coll = daemon([binary("fntrace-collector"), "--port", str(port), "--dir", str(store),
                   "--token-file", str(token), "--quiet"], port, name="fntrace-collector")
    auth = {"Authorization": "Bearer s3cret"}
    ids = []
    for _ in range(2):
        st, _, resp = http("POST", coll.url + "/", BODY, {"X-name": "fn", **auth})
        assert st == 201, resp
        ids.append(json.loads(resp)["id"])
    idx = [store / ".index" / (i + ".fsidx") for i in ids]
    wait_for(lambda: all(p.is_file() for p in idx), "the collector's index files")
    st, _, resp = http("DELETE", f"{coll.url}/api/v1/traces/{ids[0]}", headers=auth)
    assert st == 200, resp
    assert not (store / ids[0]).exists()
    assert not idx[0].exists()
    assert idx[1].is_file()                 # the other trace keeps its index


def test_trace_removed_by_hand_has_its_index_collected(daemon, tmp_path):
    store = tmp_path / "store"
    (store / "fn").mkdir(parents=True)
    names = ["fn/a.perf", "fn/b.perf", "c.perf"]
    for n in names:
        (store / n).write_bytes(BODY)
    fs = flamescope(daemon, "--dir", str(store))
    for n in names:
        assert get(fs, "/heatmap/", filename=n)[0] == 200
    idx = {n: store / ".index" / (n + ".fsidx") for n in names}
    assert all(p.is_file() for p in idx.values())
    assert index_stats(fs)["written"] == 3
    # removed while the viewer runs: asking for it answers 404 and drops its index
    (store / "fn/a.perf").unlink()
    st, _, _ = get(fs, "/heatmap/", filename="fn/a.perf")
    assert st == 404
    assert not idx["fn/a.perf"].exists()
    fs.stop()
    # removed while no viewer runs: the next one collects the index when it starts
    (store / "c.perf").unlink()
    stray = store / ".index" / "gone" / "x.perf.fsidx"       # a trace that never was
    stray.parent.mkdir()
    stray.write_bytes(idx["fn/b.perf"].read_bytes())
    fs = flamescope(daemon, "--dir", str(store))
    assert not idx["c.perf"].exists() and not stray.exists()
    assert idx["fn/b.perf"].is_file()
    assert get(fs, "/heatmap/", filename="fn/b.perf")[0] == 200
    assert index_stats(fs)["loaded"] == 1   # the surviving index is still used


@pytest.mark.skipif(not AZURITE.exists(),
                    reason="Azurite is not installed: run `make deps` (npm ci in tests/azurite)")
def test_streamed_blob_gets_an_index_keyed_on_its_etag(daemon, tmp_path, azurite):  # noqa: F811
    coll = az_collector(daemon, azurite)
    st, _, resp = http("POST", coll.url + "/", BODY, {"X-name": "fn"})
    assert st == 201, resp
    tid = json.loads(resp)["id"]
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string()}
    idxdir = tmp_path / "index"

    def viewer(cache, *extra):
        port = free_port()
        argv = [binary("fntrace-flamescope"), "--port", str(port), "--quiet",
                "--list-ttl-ms", "0", "--blob-cache", str(tmp_path / cache),
                "--store", "azblob://devstoreaccount1/traces", *extra]
        return daemon(argv, port, env=env, name="fntrace-flamescope")

    paths = ("/heatmap/", "/flamegraph/")
    fresh = viewer("cache0", "--no-index")
    want = [get(fresh, p, filename=tid)[::2] for p in paths]
    assert want[0][0] == 200
    fresh.stop()
    # first open: streamed from Azurite (an empty blob cache: no file descriptor), parsed,
    # its index written
    fs = viewer("cache1", "--index-dir", str(idxdir))
    assert [get(fs, p, filename=tid)[::2] for p in paths] == want
    s = index_stats(fs)
    assert (s["enabled"], s["loaded"], s["written"], s["refused"]) == (True, 0, 1, 0)
    assert (idxdir / (tid + ".fsidx")).is_file()
    fs.stop()
    # another empty blob cache: the index answers, the blob is not downloaded
    fs = viewer("cache2", "--index-dir", str(idxdir))
    assert [get(fs, p, filename=tid)[::2] for p in paths] == want
    s = index_stats(fs)
    assert (s["loaded"], s["written"], s["refused"]) == (1, 0, 0)
    assert not any(p.is_file() for p in (tmp_path / "cache2").iterdir())
    fs.stop()
    # the default index folder of a blob store is in the blob cache
    fs = viewer("cache3")
    assert get(fs, "/heatmap/", filename=tid)[::2] == want[0]
    assert (tmp_path / "cache3" / ".index" / (tid + ".fsidx")).is_file()
    fs.stop()
    # another blob of the same bytes has another ETag: the first one's index is stale
    st, _, resp = http("POST", coll.url + "/", BODY, {"X-name": "fn"})
    assert st == 201, resp
    other = json.loads(resp)["id"]
    (idxdir / (other + ".fsidx")).write_bytes((idxdir / (tid + ".fsidx")).read_bytes())
    fs = viewer("cache4", "--index-dir", str(idxdir))
    assert [get(fs, p, filename=other)[::2] for p in paths] == want
    s = index_stats(fs)
    assert (s["loaded"], s["refused"], s["written"]) == (0, 1, 1)
    assert "another version of the trace" in fs.log()
