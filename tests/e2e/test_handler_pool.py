"""The handler's request space per connection: libmicrohttpd's pool, which holds a
request's headers (up to FNHANDLER_HEADER_BYTES, 32 KiB by default) and which the runtime
no longer has libmicrohttpd zero after every keep-alive request (lib/httpd.c, "Pool
zeroing").  On one keep-alive connection, requests with headers near the limit, small
ones, bodies and pipelined pairs follow each other, so each request lands on what the
previous one left in the pool; every answer must be the one of its own request, with the
zeroing skipped and with it kept (FNHANDLER_POOL_ZEROING=1).  Headers over the limit get
431 and the next connection is served."""
import json
import re
import socket

import pytest

from handler_common import start_examples

LIMIT = 32 * 1024


def read_reply(sock, buf):
    """One HTTP/1.1 reply from sock (buf: bytes already read); (status, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a reply's headers: {buf[:200]!r}")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a reply's body")
        buf += chunk
    return status, buf[:n], buf[n:]


def get(name, filler=0):
    """GET /hello?name=NAME with about `filler` bytes of extra headers, in 1 KiB lines."""
    lines = [f"X-Fill-{i}: {chr(97 + i % 26) * 1000}\r\n" for i in range(filler // 1024)]
    return (f"GET /hello?name={name} HTTP/1.1\r\nHost: 127.0.0.1\r\n{''.join(lines)}"
            "\r\n").encode()


def post(name, filler=0):
    body = json.dumps({"name": name}).encode()
    lines = [f"X-Pad-{i}: {'z' * 1000}\r\n" for i in range(filler // 1024)]
    return (f"POST /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{''.join(lines)}\r\n").encode() + body


@pytest.fixture(params=["skipped", "kept"])
def app(request, daemon):
    env = {"FNHANDLER_POOL_ZEROING": "1"} if request.param == "kept" else {}
    d = start_examples(daemon, ["--port", "{port}"], env=env)
    assert f'pool_zeroing="{request.param}"' in d.log()
    return d


def test_keepalive_requests_each_get_their_own_answer(app):
    # headers near the limit (29 KiB of 32), then small ones, bodies, and pipelined pairs
    # whose second request is parsed from what the first left in the buffer
    plan = [[get("big1", 29 * 1024)], [get("small1")], [post("body1", 20 * 1024)],
            [get("big2", 28 * 1024)], [post("b2")], [get("p1", 12 * 1024), get("p2")],
            [get("p3"), post("p4", 8 * 1024)], [get("last", 29 * 1024)]]
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        rest = b""
        for batch in plan:
            s.sendall(b"".join(batch))
            for req in batch:
                name = re.search(rb"name=(\w+)|\"name\": \"(\w+)\"", req)
                name = (name.group(1) or name.group(2)).decode()
                status, body, rest = read_reply(s, rest)
                assert (status, body) == (200, f"Hello from C, {name}!".encode())
        assert rest == b""


def test_headers_over_the_limit_get_431_and_the_next_connection_is_served(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(get("x", LIMIT + 2048))
        status, _, _ = read_reply(s, b"")
        assert status == 431
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(get("after", 29 * 1024) + get("again"))
        status, body, rest = read_reply(s, b"")
        assert (status, body) == (200, b"Hello from C, after!")
        status, body, _ = read_reply(s, rest)
        assert (status, body) == (200, b"Hello from C, again!")
