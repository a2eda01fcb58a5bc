"""Reads of traces (issue: with --token-file, listing and downloading still needed no
token, though traces expose code paths and command lines).  Bounded: a second."""
import json
import subprocess

from collector_helpers import TRACE, start_collector
from conftest import binary, http

AUTH = {"Authorization": "Bearer s3cret"}


def stored(d):
    status, _, body = http("POST", d.url + "/", TRACE.read_bytes(), dict(AUTH, **{"X-name": "r"}))
    assert status == 201
    return json.loads(body)["id"]


def test_reads_need_the_token(daemon, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = start_collector(daemon, tmp_path / "store", "--token-file", str(token))
    tid = stored(d)
    for path in ("/api/v1/traces", "/api/v1/traces/" + tid):
        assert http("GET", d.url + path)[0] == 401
        assert http("GET", d.url + path, headers={"Authorization": "Bearer no"})[0] == 401
        assert http("GET", d.url + path, headers=AUTH)[0] == 200
    assert http("GET", d.url + "/healthz")[0] == 200


def test_public_read_opens_reads_only(daemon, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    d = start_collector(daemon, tmp_path / "store", "--token-file", str(token), "--public-read")
    tid = stored(d)
    assert http("GET", d.url + "/api/v1/traces/" + tid)[0] == 200
    assert http("POST", d.url + "/", TRACE.read_bytes(), {"X-name": "r"})[0] == 401
    assert http("DELETE", d.url + "/api/v1/traces/" + tid)[0] == 401


def test_help_says_so():
    out = subprocess.run([binary("fntrace-collector"), "--help"], capture_output=True,
                         text=True, timeout=10).stdout
    assert "--public-read" in out and "reads" in out
