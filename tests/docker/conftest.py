"""Harness of the Docker tests: one private dockerd per session (tests/docker/dockerd.py),
each image built once per session, containers removed when their test ends, and the
end-to-end helpers (binaries on loopback ports, the Azure test host) reused from tests/e2e.

Docker that cannot run is a failure with the reason, never a skip: a fixture that cannot
start the daemon or build an image raises, and every test that needs it errors loudly."""
import importlib.util
import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
E2E = HERE.parent / "e2e"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(E2E))

# tests/e2e/conftest.py under its own name; its helpers are re-exported here so that the
# e2e helper modules (`from conftest import …`) find them when imported from these tests
_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
e2e_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e_conftest)
sys.modules["e2e_conftest"] = e2e_conftest
ROOT, BUILD, TESTDATA = e2e_conftest.ROOT, e2e_conftest.BUILD, e2e_conftest.TESTDATA
binary, free_port, wait_port, http = (e2e_conftest.binary, e2e_conftest.free_port,
                                      e2e_conftest.wait_port, e2e_conftest.http)
Daemon, ASAN = e2e_conftest.Daemon, e2e_conftest.ASAN
daemon = e2e_conftest.daemon                      # the fixture, function-scoped

import dockerd as dk  # noqa: E402

PROFILES = ROOT / "seccomp" / "profiles"
PERF_PROFILE = PROFILES / "fntrace-perf.json"
OPENFAAS_TEMPLATE = ROOT / "handler" / "templates" / "openfaas" / "c-fntrace"
AZURE_TEMPLATE = ROOT / "handler" / "templates" / "azure"
CONTEXT = ROOT / "tools" / "docker" / "context.sh"
IMAGES = {"openfaas": "fntrace-test/openfaas-c-fntrace", "azure": "fntrace-test/azure-examples",
          "fntrace": "fntrace-test/fntrace"}


@pytest.fixture(scope="session")
def docker():
    """The session's dockerd, with debian:bookworm-slim imported."""
    d = dk.Dockerd()
    d.start()
    try:
        d.ensure_base()
        yield d
        d.prune()
    finally:
        d.stop()


def _build_context(template, out, function=None):
    rc = os.spawnv(os.P_WAIT, "/bin/sh", ["sh", str(CONTEXT), str(template), str(out)]
                   + ([str(function)] if function else []))
    assert rc == 0, f"{CONTEXT} {template} failed ({rc})"


def _timed_build(d, tag, context, **kw):
    t = time.monotonic()
    log = d.build(tag, context, **kw)
    # the build stage tagged too (cached: a second), so that the prune at the end of the
    # session keeps its layers, the next run's build cache
    d.build(tag + ":build-stage", context, target="build", **kw)
    (dk.CACHE / f"build-{tag.replace('/', '_')}.log").write_text(log)
    print(f"docker build {tag}: {time.monotonic() - t:.1f}s")
    return log


@pytest.fixture(scope="session")
def openfaas_image(docker, tmp_path_factory):
    """The c-fntrace template built the way faas-cli would, with its example handler."""
    ctx = tmp_path_factory.mktemp("openfaas-ctx")
    _build_context(OPENFAAS_TEMPLATE, ctx)
    _timed_build(docker, IMAGES["openfaas"], str(ctx))
    return IMAGES["openfaas"]


@pytest.fixture(scope="session")
def azure_image(docker, tmp_path_factory):
    """The Azure template on the local bookworm base instead of Microsoft's."""
    ctx = tmp_path_factory.mktemp("azure-ctx")
    _build_context(AZURE_TEMPLATE, ctx)
    _timed_build(docker, IMAGES["azure"], str(ctx), build_args={"AZURE_BASE": dk.BASE_IMAGE})
    return IMAGES["azure"]


@pytest.fixture(scope="session")
def fntrace_image(docker):
    """The top-level image (collector, flamescope, tracer, examples), from the tree."""
    _timed_build(docker, IMAGES["fntrace"], str(ROOT))
    return IMAGES["fntrace"]


@pytest.fixture(scope="session")
def perf_profile():
    """fntrace-perf.json as the project ships it (the seccomp component makes it)."""
    assert PERF_PROFILE.is_file(), f"{PERF_PROFILE} is missing: the seccomp component ships it"
    json.loads(PERF_PROFILE.read_text())
    return PERF_PROFILE


class Containers:
    """Starts containers (detached) and removes every one of them at teardown."""

    def __init__(self, d):
        self.d = d
        self.ids = []

    def run(self, image, *args, opts=(), env=None):
        name = "fntrace-test-" + uuid.uuid4().hex[:10]
        argv = ["run", "-d", "--name", name, "--network", "host", *opts]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        cid = self.d.docker(*argv, image, *args).strip().splitlines()[-1]
        self.ids.append(cid)
        return cid

    def logs(self, cid):
        return self.d.docker("logs", cid, check=False)

    def state(self, cid):
        return self.d.inspect(cid)["State"]

    def remove_all(self):
        for cid in reversed(self.ids):
            self.d.docker("rm", "-f", cid, check=False)


@pytest.fixture
def containers(docker):
    c = Containers(docker)
    yield c
    c.remove_all()

