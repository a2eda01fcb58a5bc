"""Idempotency keys with a blob store (issue: "stores each key once, across restarts").
With `--store azblob://` the keys lived in each collector's memory: a repeat after a
restart, or sent to another collector sharing the container, was stored again.  Now each
key is a record blob created with If-None-Match: * holding the first trace's id, so two
collectors agree.  Real Azurite (tests/azurite) on loopback, two collector processes on one
container.  Bounded: a few seconds."""
import json
import threading

import pytest

from conftest import http
from test_store_azblob import AZURITE, azurite, collector, listing   # noqa: F401 (fixture)
from collector_helpers import TRACE

pytestmark = pytest.mark.skipif(not AZURITE.exists(),
                                reason="Azurite is not installed: run `make deps` (npm ci in tests/azurite)")


def post(c, key, name="idem"):
    st, _, body = http("POST", c.url + "/", TRACE.read_bytes(),
                       {"X-name": name, "Idempotency-Key": key})
    return st, json.loads(body)


def test_two_collectors_store_a_key_once_across_restarts(daemon, azurite):
    c1, c2 = collector(daemon, azurite), collector(daemon, azurite)
    st1, d1 = post(c1, "shared-key-1")
    st2, d2 = post(c2, "shared-key-1")
    assert (st1, st2) == (201, 200), (d1, d2)
    assert d2["id"] == d1["id"] and d2["replayed"] is True
    c1.stop()
    c1 = collector(daemon, azurite)
    st3, d3 = post(c1, "shared-key-1")
    assert st3 == 200 and d3["id"] == d1["id"]
    assert [e["id"] for e in listing(c2.url, "idem")] == [d1["id"]]
    # the record blobs stay out of every listing
    assert all(not e["id"].startswith(".") for e in listing(c1.url))


def test_the_same_key_sent_to_both_at_once_is_stored_once(daemon, azurite):
    c1, c2 = collector(daemon, azurite), collector(daemon, azurite)
    for round_ in range(5):
        key, answers = f"race-{round_}", []
        ts = [threading.Thread(target=lambda c=c: answers.append(post(c, key, "race")))
              for c in (c1, c2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=30)
        codes = sorted(st for st, _ in answers)
        assert codes in ([200, 201], [201, 409]), answers
        # a 409 means "being stored now": its retry gets the first id
        for c in (c1, c2):
            st, d = post(c, key, "race")
            assert st == 200, d
    assert len(listing(c1.url, "race")) == 5
