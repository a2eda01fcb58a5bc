"""Retries without duplicates (issue: a client that gave up still got its upload stored,
and `fntrace upload --retries 3` left 2 copies).  A proxy in front of the collector lets
the collector store an upload but drops the reply, so the client gives up and retries;
the collector must store the trace once and answer the repeat with the first id, also
after a restart.  Bounded: a few seconds."""
import json
import socket
import subprocess
import threading

from collector_helpers import TRACE, start_collector, traces
from conftest import binary, http


class DroppingProxy:
    """Forwards whole requests to the collector; swallows the first `drop` replies
    (closes the client's connection instead), relays the rest."""

    def __init__(self, target_port, drop):
        self.target, self.drop, self.seen = target_port, drop, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _read_request(self, c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(body) < n:
            chunk = c.recv(65536)
            if not chunk:
                return None
            body += chunk
        return head + b"\r\n\r\n" + body

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                req = self._read_request(c)
                if req is None:
                    continue
                self.seen += 1
                with socket.create_connection(("127.0.0.1", self.target), timeout=10) as u:
                    u.sendall(req)
                    resp = b""
                    while True:       # the collector answers Connection: close to 1.0
                        chunk = u.recv(65536)
                        if not chunk:
                            break
                        resp += chunk
                        if b"\r\n\r\n" in resp:
                            head, _, body = resp.partition(b"\r\n\r\n")
                            cl = [line for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")]
                            if cl and len(body) >= int(cl[0].split(b":")[1]):
                                break
                if self.seen > self.drop:
                    c.sendall(resp)

    def close(self):
        self.sock.close()


def test_repeat_with_same_key_answers_first_id_across_restart(daemon, tmp_path):
    store = tmp_path / "store"
    c = start_collector(daemon, store)
    body = TRACE.read_bytes()
    h = {"X-name": "retry", "Idempotency-Key": '"client-1-abc"'}
    s1, _, r1 = http("POST", c.url + "/", body, h)
    s2, h2, r2 = http("POST", c.url + "/", body, h)
    assert (s1, s2) == (201, 200)
    first, again = json.loads(r1), json.loads(r2)
    assert again["id"] == first["id"] and again["replayed"] is True
    assert h2["Location"].endswith(first["id"])
    c.stop()
    c = start_collector(daemon, store)
    s3, _, r3 = http("POST", c.url + "/", body, h)
    assert s3 == 200 and json.loads(r3)["id"] == first["id"]
    # another key is another upload; a malformed key is refused
    assert http("POST", c.url + "/", body, {"X-name": "retry", "Idempotency-Key": "k2"})[0] == 201
    assert http("POST", c.url + "/", body, {"X-name": "retry", "Idempotency-Key": "a b"})[0] == 400
    assert len(traces(store)) == 2


def test_fntrace_upload_retries_store_exactly_once(daemon, tmp_path):
    store = tmp_path / "store"
    c = start_collector(daemon, store)
    proxy = DroppingProxy(c.port, drop=2)
    try:
        r = subprocess.run([binary("fntrace"), "upload", "--name", "once", "--retries", "3",
                            proxy.url + "/", str(TRACE)],
                           capture_output=True, text=True, timeout=60)
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr
    assert proxy.seen == 3                     # two tries whose reply was lost, one answered
    assert "sent=1" in r.stderr
    assert len(traces(store)) == 1, traces(store)
