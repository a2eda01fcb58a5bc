"""The installed library as a user gets it: `make install` into a staging DESTDIR, the
public libfnhandler.a exporting the fn_* API of fnhandler.h and nothing else, and the
worked example of docs/handler.md built out of the tree with
`pkg-config --cflags --libs fnhandler` and answering a request."""
import json
import os
import re
import subprocess

import pytest

from conftest import ASAN, BUILD, ROOT, free_port, http

PREFIX = "/usr/local"


def defined_globals(archive):
    """Global symbols an archive defines (nm -g --defined-only)."""
    out = subprocess.run(["nm", "-g", "--defined-only", str(archive)], check=True,
                         capture_output=True, text=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines()) if len(f) == 3}


def header_api():
    """The functions fnhandler.h declares (comments stripped)."""
    text = (ROOT / "handler" / "fnhandler.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return set(re.findall(r"\b(fn_\w+)\s*\(", text))


def test_public_library_exports_only_the_api():
    lib = BUILD / "lib" / "libfnhandler.a"
    exported = defined_globals(lib)
    api = header_api()
    assert len(api) >= 20, api
    assert exported == api, (f"exported but not in fnhandler.h: {sorted(exported - api)}; "
                             f"declared but missing: {sorted(api - exported)}")
    # the internals it is built from do define other globals: they were made local
    internal = defined_globals(BUILD / "lib" / "libfntrace-handler.a")
    assert internal - api, "the handler archive defines no internal globals?"


def doc_example():
    """The complete function of docs/handler.md (the C block that opens /* wordcount.c)."""
    text = (ROOT / "docs" / "handler.md").read_text()
    m = re.search(r"```c\n(/\* wordcount\.c.*?)```", text, re.S)
    assert m, "docs/handler.md has no wordcount.c example"
    return m.group(1)


@pytest.mark.skipif(ASAN, reason="the sanitizer build's library needs the sanitizer runtime")
def test_install_then_build_the_doc_example_out_of_tree(tmp_path, daemon):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT),
                        f"BUILD={os.environ.get('BUILD', 'build')}", "install",
                        f"PREFIX={PREFIX}", f"DESTDIR={dest}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    root = dest / PREFIX.lstrip("/")
    for f in ("include/fnhandler.h", "lib/libfnhandler.a", "lib/pkgconfig/fnhandler.pc",
              "bin/fntrace", "bin/fntrace-collector", "bin/fntrace-flamescope"):
        assert (root / f).is_file(), f"make install did not install {f}"
    # the internal archives stay in the build tree
    assert not list((root / "lib").glob("libfntrace*"))

    env = dict(os.environ, PKG_CONFIG_PATH=str(root / "lib" / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fnhandler"], env=env,
                           check=True, capture_output=True, text=True).stdout.split()
    assert f"-L{root}/lib/pkgconfig/../../lib" in flags and "-lfnhandler" in flags, flags

    src = tmp_path / "wordcount.c"
    src.write_text(doc_example())
    # the program also defines a few of fntrace's internal names: they must not clash
    internal = sorted(n for n in defined_globals(BUILD / "lib" / "libfntrace.a")
                      | defined_globals(BUILD / "lib" / "libfntrace-handler.a")
                      if not n.startswith("fn_"))
    clash = tmp_path / "mine.c"
    clash.write_text("".join(f"int {n}(void);\nint {n}(void) {{ return 42; }}\n"
                             for n in internal[:6]))
    exe = tmp_path / "wordcount"
    r = subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                        str(src), str(clash)] + flags,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    port = free_port()
    d = daemon([str(exe), "--port", str(port)], port, name="wordcount")
    status, headers, body = http("POST", f"{d.url}/wordcount?top=1",
                                 b"to be or\nnot to be\n")
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Words"] == "6"
    assert json.loads(body) == {"words": 6, "lines": 2, "bytes": 19, "longest": "not"}
    status, _, body = http("POST", f"{d.url}/wordcount", b"")
    assert status == 400 and "empty body" in json.loads(body)["error"]
    status, _, _ = http("GET", f"{d.url}/wordcount")
    assert status == 405
    assert d.stop() == 0
