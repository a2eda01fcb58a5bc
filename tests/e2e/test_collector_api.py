"""fntrace-collector end to end: the requests users send (the curl line, gzip, fntrace
upload), hostile names, bodies and ids, the read API, tokens, metrics, retention, TLS.
Every refused request must leave the store exactly as it was."""
import gzip
import json
import os
import subprocess
import time

import pytest

from collector_helpers import TRACE, raw, snapshot, start_collector, tmp_files, traces, upload
from conftest import BUILD, http

TEXT = TRACE.read_bytes()


@pytest.fixture
def coll(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store)
    d.store = store
    return d


def curl(*args):
    r = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)
    return r.returncode, r.stdout


def test_the_curl_line_users_send(coll, tmp_path):
    f = tmp_path / "trace.perf"
    f.write_bytes(TEXT)
    rc, out = curl("-X", "POST", "-H", "X-name: fibonacci", "--data-binary", f"@{f}", coll.url + "/")
    assert rc == 0
    doc = json.loads(out)
    assert doc["name"] == "fibonacci" and doc["bytes"] == len(TEXT)
    assert doc["id"].startswith("fibonacci/") and doc["id"].endswith(".perf")
    assert (coll.store / doc["id"]).read_bytes() == TEXT
    assert tmp_files(coll.store) == []
    # the same id downloads the same bytes
    status, headers, body = http("GET", coll.url + "/api/v1/traces/" + doc["id"])
    assert status == 200 and body == TEXT
    assert headers["Content-Type"].startswith("text/plain")


def test_gzip_upload_with_curl(coll, tmp_path):
    gz = tmp_path / "t.gz"
    gz.write_bytes(gzip.compress(TEXT))
    rc, out = curl("--data-binary", f"@{gz}", "-H", "Content-Encoding: gzip", "-H", "X-name: fib",
                   coll.url + "/api/v1/traces", "-w", "\n%{http_code}")
    body, code = out.rsplit(b"\n", 1)
    assert rc == 0 and code == b"201", out
    doc = json.loads(body)
    assert doc["id"].endswith(".perf.gz")
    assert (coll.store / doc["id"]).read_bytes() == gz.read_bytes()   # stored as sent
    # gzip magic alone (no header) is recognised too
    status, doc2 = upload(coll.url, gz.read_bytes(), name="fib")
    assert status == 201 and doc2["id"].endswith(".perf.gz")
    # the download says what it is: curl --compressed gets the text back
    rc, out = curl("--compressed", coll.url + "/api/v1/traces/" + doc["id"])
    assert rc == 0 and out == TEXT
    status, headers, raw_body = http("GET", coll.url + "/api/v1/traces/" + doc["id"])
    assert headers.get("Content-Encoding") == "gzip" and gzip.decompress(raw_body) == TEXT


def test_fntrace_upload(coll, tmp_path):
    try:
        from conftest import binary
        fntrace = binary("fntrace")
    except FileNotFoundError:
        pytest.skip("the tracer (fntrace) is not built in this tree yet")
    f = tmp_path / "trace.perf"
    f.write_bytes(TEXT)
    r = subprocess.run([fntrace, "upload", "--name", "fromtracer", coll.url + "/", str(f)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    stored = [t for t in traces(coll.store) if t.startswith("fromtracer/")]
    assert len(stored) == 1
    data = (coll.store / stored[0]).read_bytes()
    assert (gzip.decompress(data) if stored[0].endswith(".gz") else data) == TEXT


BAD_NAMES = ["../../etc/passwd", "/abs", "a/b", ".hidden", "a" * 129, "", "..", "a b", "a%2Fb"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_400(coll, name):
    before = snapshot(coll.store)
    status, doc = upload(coll.url, TEXT, name=name)
    assert status == 400, doc
    assert "name" in doc["error"]
    assert snapshot(coll.store) == before


def test_more_bad_names(coll):
    before = snapshot(coll.store)
    port = coll.port
    body = TEXT[:2000]
    cases = [
        b"X-name: caf\xc3\xa9\r\n",                       # non-ASCII
        b"X-name: \x00abc\r\n",                           # NUL byte in the header
        b"X-name: ab\x01c\r\n",                           # control character
        b"",                                              # no name at all
    ]
    for hdr in cases:
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + hdr +
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status, resp = raw(port, req)
        assert status == 400, (hdr, status, resp)
    # libmicrohttpd 0.9.75 ends a header value at a NUL byte: "a\0b" arrives as "a".
    # Whatever it passes on must be a valid name, and nothing else may appear.
    req = (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-name: a\x00/../../b\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    status, resp = raw(port, req)
    if status == 201:
        assert json.loads(resp)["id"].startswith("a/")
        for t in traces(coll.store):
            os.unlink(coll.store / t)
            os.rmdir(coll.store / "a")
    else:
        assert status == 400, (status, resp)
    # in the query string, percent-encoded: NUL, non-ASCII, traversal
    for q in ["a%00b", "caf%C3%A9", "..%2F..%2Fetc", "%2Fabs"]:
        status, doc = upload(coll.url, body, name=None, path="/?name=" + q)
        assert status == 400, (q, doc)
    assert snapshot(coll.store) == before
    # a good name in the query works
    status, doc = upload(coll.url, body, name=None, path="/?name=viaquery")
    assert status == 201 and doc["name"] == "viaquery"


def test_bodies_refused(coll, tmp_path, daemon):
    before = snapshot(coll.store)
    cases = [
        (b"<html>not a trace</html>\n", {}, 415),
        (b"\x00" * 10000, {}, 415),
        (b"", {}, 415),
        (gzip.compress(b"just some words\n" * 1000), {}, 415),
        (gzip.compress(TEXT)[:-20], {}, 400),                        # truncated gzip
        (gzip.compress(TEXT)[:3000], {"Content-Encoding": "gzip"}, 400),
        (TEXT, {"Content-Encoding": "gzip"}, 400),                   # says gzip, is not
        (TEXT, {"Content-Encoding": "br"}, 415),
    ]
    for body, headers, want in cases:
        status, doc = upload(coll.url, body, headers=headers)
        assert status == want, (body[:40], headers, status, doc)
        assert doc["error"]
    assert snapshot(coll.store) == before


def test_too_large_is_413_early(daemon, tmp_path):
    store = tmp_path / "s"
    d = start_collector(daemon, store, "--max-body", "100K")
    before = snapshot(store)
    f = tmp_path / "big.perf"
    f.write_bytes(TEXT * 40)                                  # about 10 MB
    # Content-Length over the limit: refused from the headers, the body is never read
    # (a raw client that sends only the headers gets its answer)
    status, body = raw(d.port, b"POST / HTTP/1.1\r\nHost: x\r\nX-name: big\r\n"
                                b"Content-Length: 10000000\r\n\r\n")
    assert status == 413 and b"limit" in body
    rc, out = curl("-H", "X-name: big", "--data-binary", f"@{f}", d.url + "/", "-w", "\n%{http_code}")
    assert out.endswith(b"\n413"), out[-200:]
    # chunked (no Content-Length): refused once the limit is passed
    rc, out = curl("-H", "X-name: big", "-H", "Transfer-Encoding: chunked", "--data-binary",
                   f"@{f}", d.url + "/", "-w", "\n%{http_code}")
    assert out.endswith(b"\n413"), out[-200:]
    assert snapshot(store) == before
    # under the limit still works
    status, doc = upload(d.url, TEXT[:50000])
    assert status == 201


def test_chunked_body_over_a_large_limit_is_413(daemon, tmp_path):
    # a limit over lib/httpd's 64 MB drain allowance (the default is 100M): the body past
    # the limit is drained a while, and the client gets its 413, not a reset connection
    store = tmp_path / "s"
    d = start_collector(daemon, store, "--max-body", "70M")
    before = snapshot(store)
    f = tmp_path / "big.perf"
    with open(f, "wb") as out:
        for _ in range(75 * 4):                                # 75 MB
            out.write((TEXT * 4)[:256 * 1024])
    rc, out = curl("-H", "X-name: big", "-H", "Transfer-Encoding: chunked", "--data-binary",
                   f"@{f}", d.url + "/", "-w", "\n%{http_code}")
    assert rc == 0 and out.endswith(b"\n413"), (rc, out[-200:])
    assert snapshot(store) == before


def test_huge_max_body_limit_still_takes_uploads(daemon, tmp_path):
    # a limit past 2^63 bytes (a way of saying "no limit") must not wrap negative and
    # refuse every upload that has a Content-Length
    d = start_collector(daemon, tmp_path / "s", "--max-body", "9000000T")
    status, doc = upload(d.url, TEXT[:50000])
    assert status == 201, doc


def token_collector(daemon, store, tmp_path):
    """A collector with --token-file; returns it and the headers that authorize."""
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = start_collector(daemon, store, "--token-file", str(token))
    return d, {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize("bad", ["../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
                                 "fib/../../x", ".tmp/x", "fib/.hidden", "a//b"])
def test_ids_escaping_the_store_are_400(daemon, tmp_path, bad):
    store = tmp_path / "traces"
    d, auth = token_collector(daemon, store, tmp_path)
    assert upload(d.url, TEXT, headers=auth)[0] == 201
    (tmp_path / "outside").write_text("secret")
    before = snapshot(store)
    for method in ("GET", "DELETE"):
        # raw request: no client-side normalisation of ".."
        req = (f"{method} /api/v1/traces/{bad} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               f"Authorization: Bearer s3cret\r\n\r\n").encode()
        status, body = raw(d.port, req)
        assert status in (400, 404), (method, bad, status, body)
        assert b"secret" not in body
    assert snapshot(store) == before
    assert (tmp_path / "outside").exists()


@pytest.mark.parametrize("unknown", ["fib/" + "a" * 300, "b" * 300 + "/x.perf"],
                         ids=["long-file", "long-dir"])
def test_unknown_ids_with_long_components_are_404(daemon, tmp_path, unknown):
    # valid ids (store_id_valid allows components up to the 1024-byte id limit) that no
    # file can have: "no such trace", not an internal error
    d, auth = token_collector(daemon, tmp_path / "traces", tmp_path)
    assert upload(d.url, TEXT, name="fib", headers=auth)[0] == 201
    for method in ("GET", "DELETE"):
        status, _, body = http(method, d.url + "/api/v1/traces/" + unknown, headers=auth)
        assert status == 404, (method, status, body)


def test_ids_with_an_encoded_nul_are_400(daemon, tmp_path):
    # "ID%00junk" decodes to a NUL byte: a non-printable id, 400 -- never the trace the
    # bytes before the NUL name (which a C string would cut it to)
    store = tmp_path / "traces"
    d, auth = token_collector(daemon, store, tmp_path)
    status, doc = upload(d.url, TEXT, name="fib", headers=auth)
    assert status == 201
    for method in ("GET", "DELETE"):
        req = (f"{method} /api/v1/traces/{doc['id']}%00.html HTTP/1.1\r\nHost: x\r\n"
               f"Connection: close\r\nAuthorization: Bearer s3cret\r\n\r\n").encode()
        status, body = raw(d.port, req)
        assert status == 400, (method, status, body)
    assert traces(store) == [doc["id"]]


def test_list_get_delete_with_token(daemon, tmp_path):
    store = tmp_path / "traces"
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = start_collector(daemon, store, "--token-file", str(token))
    before = snapshot(store)
    assert upload(d.url, TEXT)[0] == 401
    assert upload(d.url, TEXT, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert snapshot(store) == before
    auth = {"Authorization": "Bearer s3cret"}
    ids = []
    for name in ("alpha", "beta", "alpha"):
        status, doc = upload(d.url, TEXT, name=name, headers=auth)
        assert status == 201
        ids.append(doc["id"])
        time.sleep(0.01)
    status, _, body = http("GET", d.url + "/api/v1/traces", headers=auth)
    lst = json.loads(body)
    assert [e["id"] for e in lst] == ids                     # oldest first
    assert all(e["bytes"] == len(TEXT) and e["time"].endswith("Z") for e in lst)
    status, _, body = http("GET", d.url + "/api/v1/traces?name=alpha", headers=auth)
    assert [e["id"] for e in json.loads(body)] == [ids[0], ids[2]]
    assert http("GET", d.url + "/api/v1/traces?name=../x", headers=auth)[0] == 400
    # DELETE needs the token
    assert http("DELETE", d.url + "/api/v1/traces/" + ids[1])[0] == 401
    assert http("DELETE", d.url + "/api/v1/traces/" + ids[1],
                headers={"Authorization": "Bearer nope"})[0] == 401
    assert http("DELETE", d.url + "/api/v1/traces/" + ids[1], headers=auth)[0] == 200
    assert http("GET", d.url + "/api/v1/traces/" + ids[1], headers=auth)[0] == 404
    assert http("DELETE", d.url + "/api/v1/traces/" + ids[1], headers=auth)[0] == 404
    assert sorted(traces(store)) == sorted([ids[0], ids[2]])


def test_delete_refused_without_token_file(coll):
    status, doc = upload(coll.url, TEXT)
    assert status == 201
    assert http("DELETE", coll.url + "/api/v1/traces/" + doc["id"])[0] == 403
    assert traces(coll.store) == [doc["id"]]


def test_healthz_and_metrics(coll):
    assert http("GET", coll.url + "/healthz")[0] == 200
    assert upload(coll.url, TEXT)[0] == 201
    assert upload(coll.url, gzip.compress(TEXT))[0] == 201
    assert upload(coll.url, TEXT, name="../x")[0] == 400
    assert upload(coll.url, b"nope\n")[0] == 415
    status, headers, body = http("GET", coll.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    m = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            m[k] = float(v)
    gz_len = os.path.getsize(coll.store / [t for t in traces(coll.store) if t.endswith(".gz")][0])
    assert m["fntrace_collector_uploads_total"] == 2
    assert m["fntrace_collector_upload_bytes_total"] == len(TEXT) + gz_len
    assert m['fntrace_collector_rejects_total{reason="bad_name"}'] == 1
    assert m['fntrace_collector_rejects_total{reason="not_perf_script"}'] == 1
    assert m["fntrace_collector_store_files"] == 2
    assert m["fntrace_collector_store_bytes"] == len(TEXT) + gz_len


def test_retention_by_bytes_and_age(daemon, tmp_path):
    store = tmp_path / "traces"
    d = start_collector(daemon, store, "--max-bytes", str(3 * len(TEXT) + 100))
    ids = []
    for i in range(5):
        status, doc = upload(d.url, TEXT)
        assert status == 201
        ids.append(doc["id"])
        time.sleep(0.02)
    assert traces(store) == sorted(ids[2:])                  # oldest went first
    d.stop()
    store2 = tmp_path / "aged"
    d2 = start_collector(daemon, store2, "--max-age", "2s")
    status, doc = upload(d2.url, TEXT)
    assert status == 201 and traces(store2) == [doc["id"]]
    deadline = time.monotonic() + 30
    while traces(store2) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert traces(store2) == []


def test_tls(daemon, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       capture_output=True, timeout=60)
    if r.returncode:
        pytest.skip("openssl cannot make a test certificate: " + r.stderr.decode()[-200:])
    store = tmp_path / "traces"
    d = start_collector(daemon, store, "--tls-cert", str(cert), "--tls-key", str(key))
    f = tmp_path / "trace.perf"
    f.write_bytes(TEXT)
    url = f"https://127.0.0.1:{d.port}/"
    rc, out = curl("--cacert", str(cert), "-H", "X-name: secure", "--data-binary", f"@{f}", url)
    assert rc == 0, out
    doc = json.loads(out)
    assert (store / doc["id"]).read_bytes() == TEXT
    rc, _ = curl("--data-binary", f"@{f}", "-H", "X-name: plain", f"http://127.0.0.1:{d.port}/")
    assert traces(store) == [doc["id"]]


def test_second_collector_on_the_same_port_fails(coll, tmp_path):
    from conftest import binary
    r = subprocess.run([binary("fntrace-collector"), "--port", str(coll.port),
                        "--dir", str(tmp_path / "other")], capture_output=True, timeout=30)
    assert r.returncode != 0 and b"cannot listen" in r.stderr
    # the first one still gets every upload
    for _ in range(5):
        assert upload(coll.url, TEXT)[0] == 201
    assert len(traces(coll.store)) == 5
