"""Helpers for the handler's end-to-end tests: start fnhandler-examples in a mode on a
free loopback port, and one HTTP request that also returns the response headers."""
import json
import time

from conftest import binary, free_port, http

PI_50 = "3.14159265358979323846264338327950288419716939937510"


def start_examples(daemon, mode_args, env=None, port=None, cwd=None, name="fnhandler-examples"):
    """Starts the example app; returns the Daemon.  mode_args selects the mode."""
    port = port or free_port()
    full_env = {"FNTRACE_LOG": "info"}
    full_env.update(env or {})
    argv = [binary("fnhandler-examples")] + [a.replace("{port}", str(port)) for a in mode_args]
    return daemon(argv, port, env=full_env, cwd=cwd, name=name)


def request(url, method="GET", body=None, headers=None, timeout=60):
    """(status, headers with lower-case names, body bytes)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    elif isinstance(body, str):
        body = body.encode()
    status, hdrs, data = http(method, url, body, headers, timeout=timeout)
    return status, {k.lower(): v for k, v in hdrs.items()}, data


def jbody(data):
    return json.loads(data.decode())


def wait_until(pred, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
