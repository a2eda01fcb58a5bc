"""End to end: the azblob store against a real Azurite (tests/azurite, installed by
`make deps`) on loopback in a temporary directory, Shared Key auth enforced (no --loose).
Two collectors share one container, one flamescope reads it; delete, wrong key, a 200 MB
streamed upload, retention, and Azurite stopped in the middle of 100 uploads."""
import gzip
import hashlib
import http.client as httpclient
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TESTDATA, binary, free_port, http, wait_port
from collector_helpers import upload

AZURITE = ROOT / "tests" / "azurite" / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
DEV_CS = "UseDevelopmentStorage=true"
TRACE = (TESTDATA / "perf-system.stacks").read_bytes()

pytestmark = pytest.mark.skipif(not AZURITE.exists(),
                                reason="Azurite is not installed: run `make deps` (npm ci in tests/azurite)")


class Azurite:
    """Azurite's blob service on a loopback port, data in `location`; start/stop by pid."""

    def __init__(self, location, port=None):
        self.location = Path(location)
        self.port = port or free_port()
        self.proc = None
        self.log = open(self.location.parent / f"azurite-{self.port}.log", "ab")

    def start(self):
        self.proc = subprocess.Popen(
            ["node", str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
             "--location", str(self.location), "--silent"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=30, proc=self.proc)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def connection_string(self, key=None):
        key = key or ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
                      "KBHBeksoGMGw==")
        return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/devstoreaccount1;")


@pytest.fixture
def azurite(tmp_path):
    a = Azurite(tmp_path / "azurite")
    a.location.mkdir()
    a.start()
    yield a
    a.stop()
    a.log.close()


def collector(daemon, az, container="traces", *args):
    port = free_port()
    argv = [binary("fntrace-collector"), "--port", str(port), "--quiet",
            "--store", f"azblob://devstoreaccount1/{container}", *args]
    return daemon(argv, port, env={"AZURE_STORAGE_CONNECTION_STRING": az.connection_string()},
                  name="fntrace-collector")


def flamescope(daemon, az, tmp_path, container="traces", *args, page=None):
    port = free_port()
    argv = [binary("fntrace-flamescope"), "--port", str(port), "--quiet", "--list-ttl-ms", "0",
            "--blob-cache", str(tmp_path / "blobcache"),
            "--store", f"azblob://devstoreaccount1/{container}", *args]
    env = {"AZURE_STORAGE_CONNECTION_STRING": az.connection_string()}
    if page:
        env["FNTRACE_AZBLOB_LIST_PAGE"] = str(page)
    return daemon(argv, port, env=env, name="fntrace-flamescope")


def listing(url, name=None, headers=None):
    q = f"?name={name}" if name else ""
    status, _, body = http("GET", f"{url}/api/v1/traces{q}", headers=headers)
    assert status == 200, body
    return json.loads(body)


def test_two_collectors_one_container_one_flamescope(tmp_path, daemon, azurite):
    c1 = collector(daemon, azurite)
    c2 = collector(daemon, azurite)
    bodies = {}
    for i, c in enumerate([c1, c2, c1, c2]):
        body = b"# upload %d\n" % i + TRACE
        status, doc = upload(c.url, body, name=f"fn{i % 2}")
        assert status == 201, doc
        bodies[doc["id"]] = body
    # each collector lists what both stored
    for c in (c1, c2):
        assert sorted(e["id"] for e in listing(c.url)) == sorted(bodies)
        assert len(listing(c.url, "fn0")) == 2
    # downloaded bytes are the uploaded ones, through either collector
    for i, (tid, body) in enumerate(bodies.items()):
        status, hdrs, got = http("GET", f"{[c1, c2][i % 2].url}/api/v1/traces/{tid}")
        assert status == 200 and got == body
    # a gzip upload keeps its encoding
    gz = gzip.compress(TRACE)
    status, doc = upload(c2.url, gz, name="gz", headers={"Content-Encoding": "gzip"})
    assert status == 201 and doc["id"].endswith(".perf.gz")
    status, hdrs, got = http("GET", f"{c1.url}/api/v1/traces/{doc['id']}")
    assert status == 200 and hdrs.get("Content-Encoding") == "gzip" and got == gz

    fs = flamescope(daemon, azurite, tmp_path, page=2)   # 5 blobs: 3 List Blobs pages
    status, _, body = http("GET", f"{fs.url}/profile/")
    assert status == 200
    assert sorted(p["filename"] for p in json.loads(body)) == sorted([*bodies, doc["id"]])
    # the same profile from disk and from the blob store gives the same heatmap
    local = tmp_path / "local"
    (local / "fn").mkdir(parents=True)
    (local / "fn" / "x.perf").write_bytes(next(iter(bodies.values())))
    fsd = daemon([binary("fntrace-flamescope"), "--port", str(p := free_port()), "--quiet",
                  "--dir", str(local)], p, name="fntrace-flamescope-dir")
    _, _, want = http("GET", f"{fsd.url}/heatmap/?filename=fn/x.perf&type=perf")
    first = next(iter(bodies))
    for _ in range(2):      # streamed from the store, then from the blob cache
        status, _, got = http("GET", f"{fs.url}/heatmap/?filename={first}&type=perf")
        assert status == 200 and json.loads(got) == json.loads(want)
    status, _, got = http("GET", f"{fs.url}/heatmap/?filename={doc['id']}&type=perf")
    assert status == 200 and json.loads(got)["maxvalue"] > 0
    assert any((tmp_path / "blobcache").iterdir())
    status, _, _ = http("GET", f"{fs.url}/heatmap/?filename=fn0/missing.perf&type=perf")
    assert status == 404

    # the store's operations show in the metrics
    _, _, m = http("GET", f"{c2.url}/metrics")     # two traces and the gzip one
    m = m.decode()
    assert 'fntrace_collector_store_operations_total{op="put"} 3' in m
    assert 'fntrace_collector_store_errors_total{op="put"} 0' in m
    assert 'fntrace_collector_store_seconds_total{op="put"}' in m


def test_delete_and_retention(tmp_path, daemon, azurite):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    c = collector(daemon, azurite, "traces", "--token-file", str(token))
    auth = {"Authorization": "Bearer s3cret"}
    status, doc = upload(c.url, TRACE, headers=auth)
    assert status == 201
    tid = doc["id"]
    status, _, _ = http("DELETE", f"{c.url}/api/v1/traces/{tid}", headers=auth)
    assert status == 200
    # with a token, reads need it too (no --public-read)
    assert http("GET", f"{c.url}/api/v1/traces/{tid}", headers=auth)[0] == 404
    assert listing(c.url, headers=auth) == []
    assert http("DELETE", f"{c.url}/api/v1/traces/{tid}", headers=auth)[0] == 404

    # retention by size on the blob store: the oldest go first
    c2 = collector(daemon, azurite, "retained", "--max-bytes", str(len(TRACE) * 2 + 100))
    ids = []
    for i in range(4):
        status, doc = upload(c2.url, b"# n %d\n" % i + TRACE)
        assert status == 201
        ids.append(doc["id"])
        time.sleep(1.1)      # Last-Modified has one-second resolution
    left = [e["id"] for e in listing(c2.url)]
    assert left == ids[-2:]


def test_wrong_key_is_a_clear_error_at_startup(tmp_path, azurite):
    env = dict(os.environ, AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string(
        key="d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk="))
    for prog in ("fntrace-collector", "fntrace-flamescope"):
        r = subprocess.run([binary(prog), "--port", str(free_port()),
                            "--store", "azblob://devstoreaccount1/traces"],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert "403" in r.stderr and "key" in r.stderr, r.stderr
    # no credentials at all, and plain http to a non-loopback endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_STORAGE")}
    r = subprocess.run([binary("fntrace-collector"), "--store", "azblob://acct/traces"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "AZURE_STORAGE_CONNECTION_STRING" in r.stderr
    env["AZURE_STORAGE_CONNECTION_STRING"] = ("AccountName=acct;AccountKey=a2V5;"
                                              "BlobEndpoint=http://192.0.2.1/acct")
    r = subprocess.run([binary("fntrace-collector"), "--store", "azblob://acct/traces"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "plain http" in r.stderr


def vm_hwm_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_200mb_upload_streams(tmp_path, daemon, azurite):
    c = collector(daemon, azurite, "traces", "--max-body", "0")
    n = (200 << 20) // len(TRACE) + 1
    total = n * len(TRACE)
    want = hashlib.sha256()
    for _ in range(n):
        want.update(TRACE)

    def body():
        for _ in range(n):
            yield TRACE

    conn = httpclient.HTTPConnection("127.0.0.1", c.port, timeout=300)
    conn.request("POST", "/", body=body(), headers={"X-name": "huge", "Content-Length": str(total)})
    r = conn.getresponse()
    doc = json.loads(r.read())
    assert r.status == 201 and doc["bytes"] == total
    assert vm_hwm_kb(c.pid) < 64 * 1024
    # and back, streamed too
    conn.request("GET", f"/api/v1/traces/{doc['id']}")
    r = conn.getresponse()
    got = hashlib.sha256()
    size = 0
    while chunk := r.read(1 << 20):
        got.update(chunk)
        size += len(chunk)
    assert r.status == 200 and size == total and got.digest() == want.digest()
    assert vm_hwm_kb(c.pid) < 64 * 1024
    conn.close()


def test_azurite_stopped_during_100_uploads(tmp_path, daemon, azurite):
    """Every upload is either acknowledged (201) and present afterwards, or refused with
    503 and kept by the tracer's spool, which delivers it once the store is back: the
    store ends with the 100 traces, each exactly once."""
    c = collector(daemon, azurite)
    spool = tmp_path / "spool"
    files = []
    for i in range(100):
        f = tmp_path / f"t{i:03d}.perf"
        f.write_bytes(b"# fntrace test upload : seq=%03d\n" % i + TRACE)
        files.append(f)
    fntrace = binary("fntrace")
    outcomes = []
    outage = threading.Event()

    def outage_thread():
        outage.wait(120)
        azurite.stop()
        time.sleep(4)
        azurite.start()

    t = threading.Thread(target=outage_thread)
    t.start()
    try:
        for i, f in enumerate(files):
            if i == 40:
                outage.set()
                time.sleep(0.5)
            r = subprocess.run([fntrace, "upload", "--name", "flaky", "--spool", str(spool),
                                "--retries", "1", f"{c.url}/", str(f)],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode in (0, 75), r.stderr
            outcomes.append(r.returncode)
    finally:
        outage.set()
        t.join()
    sent, spooled = outcomes.count(0), outcomes.count(75)
    assert sent + spooled == 100
    assert spooled >= 1, "the outage refused no upload"
    assert sent >= 40
    # drain the spool until it is empty (bounded)
    for _ in range(30):
        r = subprocess.run([fntrace, "upload", "--name", "flaky", "--spool", str(spool), f"{c.url}/"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0 and not [p for p in spool.iterdir() if p.suffix == ".perf"]:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the spool did not drain: {list(spool.iterdir())}")
    ents = listing(c.url, "flaky")
    seqs = []
    for e in ents:
        status, _, body = http("GET", f"{c.url}/api/v1/traces/{e['id']}")
        assert status == 200
        if e["gzip"]:                    # the tracer sends gzip; it is stored as sent
            body = gzip.decompress(body)
        seqs.append(int(body.split(b"\n", 1)[0].rsplit(b"=", 1)[1]))
    assert sorted(seqs) == list(range(100)), "lost or duplicated traces"
    _, _, m = http("GET", f"{c.url}/metrics")
    m = m.decode()
    assert "fntrace_collector_uploads_total 100\n" in m        # each stored exactly once
    # every spooled trace met a 503 (an upload also retries what the spool holds first)
    refused = int(m.split('fntrace_collector_rejects_total{reason="store_unavailable"} ')[1].split()[0])
    assert refused >= spooled
