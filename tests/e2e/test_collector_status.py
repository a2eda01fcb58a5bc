"""fntrace-collector's page at GET /: what someone who opens the collector's address sees
(what it is, the curl line that uploads, what it holds), and the curl line it prints
works as printed."""
import json
import shlex
import socket
import subprocess
import threading
import time

from collector_helpers import TRACE, start_collector
from conftest import binary, free_port, http


def page(d):
    status, headers, body = http("GET", d.url + "/")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain")
    return body.decode()


def curl_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip().startswith("curl ")]
    assert len(lines) == 1, text
    return lines[0]


def run_printed_curl(line, name):
    argv = [a.replace("NAME", name).replace("@trace.perf", f"@{TRACE}")
            for a in shlex.split(line)]
    r = subprocess.run(argv + ["-sS", "-w", "\n%{http_code}"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def test_status_page_curl_line_uploads_and_counts(daemon, tmp_path):
    d = start_collector(daemon, tmp_path / "traces")
    text = page(d)
    assert text.startswith("fntrace-collector")
    assert "Stored: 0 traces" in text
    line = curl_line(text)
    assert f"http://127.0.0.1:{d.port}/" in line
    code, body = run_printed_curl(line, "from-the-page")
    assert code == 201, body
    assert json.loads(body)["name"] == "from-the-page"
    # a refused upload counts too
    assert http("POST", d.url + "/", b"not a trace", {"X-name": "x"})[0] == 415
    text = page(d)
    assert "Stored: 1 traces" in text
    assert "1 uploads stored" in text and "1 refused" in text
    assert (tmp_path / "traces" / "from-the-page").is_dir()


def test_status_page_with_a_token_shows_the_header(daemon, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    d = start_collector(daemon, tmp_path / "traces", "--token-file", str(token))
    line = curl_line(page(d))
    assert "Authorization: Bearer TOKEN" in line
    assert "s3cret" not in page(d)
    code, _ = run_printed_curl(line.replace("TOKEN", "s3cret-token"), "tok")
    assert code == 201


def test_status_page_does_not_echo_a_hostile_host(daemon, tmp_path):
    d = start_collector(daemon, tmp_path / "traces")
    for host in ("a'b", "x;rm -rf ~", "a b"):
        status, _, body = http("GET", d.url + "/", headers={"Host": host})
        assert status == 200
        assert host.encode() not in body and f"127.0.0.1:{d.port}/".encode() in body
    # a plain host name is what the client used, so it is what the page shows
    _, _, body = http("GET", d.url + "/", headers={"Host": "collector.example:8081"})
    assert b"http://collector.example:8081/" in body


def test_status_page_answers_while_the_collector_starts(tmp_path):
    """A request can reach the page before the collector has finished starting (its port
    is open before the start returns).  A client hammers the port from before the start
    on; the first answer must be the page, and the collector must stay up.  (It used to
    read the listening port from a server handle not yet set, and crash under load.)"""
    for run in range(25):
        port = free_port()
        answers = []

        def hammer():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not answers:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n")
                        answers.append(s.recv(4096))
                except OSError:
                    time.sleep(0.0005)
        t = threading.Thread(target=hammer)
        t.start()
        with open(tmp_path / f"log-{run}", "wb") as log:
            p = subprocess.Popen([binary("fntrace-collector"), "--port", str(port), "--dir",
                                  str(tmp_path / f"traces-{run}")], stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            t.join()
            assert answers and answers[0].startswith(b"HTTP/1.1 200"), answers
            assert f"127.0.0.1:{port}/".encode() in answers[0]
            assert p.poll() is None, f"the collector exited with {p.returncode}"
        finally:
            p.terminate()
            p.wait()
