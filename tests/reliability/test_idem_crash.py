"""The crash window of an Idempotency-Key (issue: "stores each key once, across
restarts").  The collector used to make the trace visible first and append its key to the
journal after: a crash between the two left a stored trace whose key was lost, and the
client's retry stored a second copy.  Now the key is recorded (journal line fdatasync'd)
before the trace's rename, and a recorded key whose trace is not there counts as unknown.
The collector is killed with SIGKILL at either side of the rename through its test hook
FNTRACE_TEST_CRASH_AT (collector/ingest.c), then restarted on the same store; the retry
must leave exactly one trace.  Bounded: a few seconds."""
import json

from collector_helpers import TRACE, start_collector, traces
from conftest import http


def upload_until_killed(daemon, store, key, where):
    c = start_collector(daemon, store, env={"FNTRACE_TEST_CRASH_AT": where})
    try:
        st, _, _ = http("POST", c.url + "/", TRACE.read_bytes(),
                        {"X-name": "crash", "Idempotency-Key": key}, timeout=10)
    except OSError:
        st = 0
    assert st == 0, "the collector answered though it was to be killed"
    c.proc.wait(timeout=10)
    assert c.proc.returncode == -9
    assert "test hook: crashing" in c.log()


def test_kill_after_the_rename_keeps_the_key(daemon, tmp_path):
    store = tmp_path / "store"
    upload_until_killed(daemon, store, "k-after", "trace-committed")
    assert len(traces(store)) == 1                      # the trace made it
    c = start_collector(daemon, store)
    st, _, body = http("POST", c.url + "/", TRACE.read_bytes(),
                       {"X-name": "crash", "Idempotency-Key": "k-after"})
    doc = json.loads(body)
    assert st == 200 and doc["replayed"] is True, (st, doc)
    assert [doc["id"]] == traces(store)


def test_kill_before_the_rename_stores_the_retry_once(daemon, tmp_path):
    store = tmp_path / "store"
    upload_until_killed(daemon, store, "k-before", "key-recorded")
    assert traces(store) == []                          # recorded, never visible
    c = start_collector(daemon, store)
    h = {"X-name": "crash", "Idempotency-Key": "k-before"}
    st, _, body = http("POST", c.url + "/", TRACE.read_bytes(), h)
    assert st == 201, body
    first = json.loads(body)["id"]
    st, _, body = http("POST", c.url + "/", TRACE.read_bytes(), h)
    assert st == 200 and json.loads(body)["id"] == first
    assert traces(store) == [first]
