"""Helpers shared by the collector's end-to-end tests (test_collector_*.py): starting
fntrace-collector on a free port with its own store, raw HTTP for requests that urllib
cannot make, and a snapshot of everything in the store directory."""
import json
import os
import socket
from pathlib import Path

from conftest import TESTDATA, binary, free_port, http

TRACE = TESTDATA / "perf-threads.stacks"


def start_collector(daemon, store, *args, env=None):
    """Starts fntrace-collector on a free port with --dir store; returns the Daemon."""
    port = free_port()
    argv = [binary("fntrace-collector"), "--port", str(port), "--dir", str(store), *args]
    return daemon(argv, port, env=env, name="fntrace-collector")


def snapshot(store):
    """Every file and directory under the store (the temporary area included), with
    file sizes: equal snapshots mean nothing was added, removed or changed.  The index
    folder (.index) is left out: the collector writes flamescope's index files there
    after a commit, on its own thread, at a time no test controls."""
    out = {}
    for root, dirs, files in os.walk(store):
        if root == str(store):
            dirs[:] = [d for d in dirs if d != ".index"]
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), store) + "/"] = None
        for f in files:
            p = os.path.join(root, f)
            try:
                out[os.path.relpath(p, store)] = os.path.getsize(p)
            except FileNotFoundError:      # a temporary file going away meanwhile
                pass
    return out


def traces(store):
    """Stored trace files (relative paths), temporary area and dotfiles excluded."""
    return sorted(k for k, v in snapshot(store).items()
                  if v is not None and not any(part.startswith(".") for part in Path(k).parts))


def tmp_files(store):
    tmp = Path(store) / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def raw(port, data, timeout=15):
    """Sends raw bytes as a request; returns (status, body bytes) of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def upload(url, body, name="fibonacci", headers=None, path="/"):
    h = {"X-name": name} if name is not None else {}
    h.update(headers or {})
    status, hdrs, resp = http("POST", url + path, body, h)
    try:
        doc = json.loads(resp) if resp else None
    except ValueError:
        doc = None
    return status, doc
