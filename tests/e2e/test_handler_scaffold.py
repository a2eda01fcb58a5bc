"""`fnhandler new KIND -n NAME`: writes a C stub per kind, registers it in functions.def and
writes main.c once; the result compiles with -Wall -Wextra -Werror against the library,
its --azure-init output keeps the binding rules, and the new functions serve."""
import json
import subprocess

import pytest

from conftest import ASAN, BUILD, ROOT, binary, free_port
from handler_common import check_binding_rules, jbody, queue_metadata, request

KINDS = ["http", "queue", "timer", "blob", "eventhub", "eventgrid"]


def fnhandler(*args, cwd=None):
    return subprocess.run([binary("fnhandler"), *args], capture_output=True, text=True,
                          timeout=30, cwd=cwd)


def build_app(src):
    """The app built as a user builds it: fnhandler.h and the public libfnhandler.a."""
    libs = [str(BUILD / "lib" / "libfnhandler.a")]
    pkg = subprocess.run(["pkg-config", "--libs", "libmicrohttpd", "libcjson", "libcurl", "libelf",
                          "zlib", "libseccomp", "libbpf"], capture_output=True, text=True).stdout.split()
    r = subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "handler"),
                        "-o", "app", *sorted(p.name for p in src.glob("*.c")), *libs, *pkg,
                        "-lpthread", "-lm"], cwd=src, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return src / "app"


@pytest.mark.skipif(ASAN, reason="the sanitizer build's library needs the sanitizer runtime")
def test_new_functions_compile_register_and_serve(daemon, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for k in KINDS:
        r = fnhandler("new", k, "-n", f"my-{k}", "-C", str(src))
        assert r.returncode == 0, r.stderr
        assert f"registered my-{k}" in r.stdout
    assert (src / "main.c").exists()
    assert [l for l in (src / "functions.def").read_text().splitlines() if l.startswith("FN_FUNCTION(")] == [f"FN_FUNCTION(my_{k})" for k in KINDS]
    # refusals: a second function of the same name, a bad name, an unknown kind
    r = fnhandler("new", "queue", "-n", "my-queue", "-C", str(src))
    assert r.returncode == 1 and "registered already" in r.stderr
    r = fnhandler("new", "queue", "-n", "9 bad", "-C", str(src))
    assert r.returncode == 1 and "name" in r.stderr
    r = fnhandler("new", "ftp", "-n", "x", "-C", str(src))
    assert r.returncode == 1 and "unknown kind ftp" in r.stderr
    assert not (src / "x.c").exists()

    app = build_app(src)
    listed = subprocess.run([str(app), "--list"], capture_output=True, text=True).stdout
    assert sorted(line.split("\t")[0] for line in listed.splitlines()) == sorted(f"my-{k}" for k in KINDS)
    r = subprocess.run([str(app), "--azure-init", str(tmp_path / "site")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    host = json.loads((tmp_path / "site" / "host.json").read_text())
    assert host["customHandler"]["description"]["defaultExecutablePath"] == "app"
    for k in KINDS:
        fj = json.loads((tmp_path / "site" / f"my-{k}" / "function.json").read_text())
        check_binding_rules(fj)

    port = free_port()
    d = daemon([str(app), "--port", str(port)], port, name="scaffolded-app")
    st, _, body = request(f"{d.url}/my-http?name=scaffold")
    assert (st, body) == (200, b"Hello, scaffold!")
    st, _, body = request(f"{d.url}/my-queue", "POST",
                          {"Data": {"msg": "to the queue"}, "Metadata": queue_metadata()})
    assert st == 200 and jbody(body)["Outputs"] == {"out": "to the queue"}
    st, _, body = request(f"{d.url}/my-queue", "POST", {"Data": {"msg": "x"}, "Metadata": {}})
    assert st == 400 and "Metadata.Id: missing" in jbody(body)["error"]
