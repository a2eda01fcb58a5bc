"""Slow clients for the reliability suite: N connections from several loopback source
addresses (127.0.0.2, .3, ...) that each drip one byte of a never-ending request header
per second, from one background thread.  .closed() counts the connections the server
has closed.  Stop it with .stop(); every socket is closed then."""
import errno
import resource
import selectors
import socket
import threading
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 512
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class SlowClients:
    def __init__(self, port, n, per_addr=190, prefix=b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "):
        if raise_nofile(n) < n + 256:
            raise RuntimeError("cannot raise RLIMIT_NOFILE for the slow clients")
        self.port, self.n, self.prefix = port, n, prefix
        self.socks = []
        self._closed = set()
        self._stop = threading.Event()
        self.refused = 0
        for i in range(n):
            src = f"127.0.0.{2 + i // per_addr}"
            s = socket.socket()
            s.setblocking(False)
            s.bind((src, 0))
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.socks.append(s)
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self):
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        pos = 0
        next_drip = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_drip:
                byte = self.prefix[pos:pos + 1] if pos < len(self.prefix) else b"a"
                pos += 1
                for s in self.socks:
                    if s.fileno() in self._closed:
                        continue
                    try:
                        s.send(byte)
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        if e.errno not in (errno.EAGAIN, errno.ENOTCONN):
                            self._closed.add(s.fileno())
                next_drip = now + 1.0
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._closed.add(s.fileno())
                    sel.unregister(s)
        sel.close()

    def closed(self):
        return len(self._closed)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()
