"""FlameScope's index against the profile's size (issue: "Keep the index under the file's
size for any input, and say the bound in docs"; 2M distinct stacks took 6x the file).
The bound (docs/flamescope.md): a build holds at most the profile's text size plus 8 MiB,
and so does the index it makes.  Two generated worst cases, deep stacks of one-letter
frame lines in distinct orders (2.7x the text without the bound) and one distinct stack
per sample (1.4x), are refused with a cached 507 naming the bound, within the default
--cache; an ordinary generated profile of the same size is served.  Bounded: seconds."""
import json
import random
import subprocess
import time

from conftest import binary, free_port, http


def tiny_frames(path, samples):
    r = random.Random(1)
    with open(path, "w") as f:
        for i in range(samples):
            f.write("a 1 1.%06d: 1 c:\n" % i)
            f.write("".join("\t0 %s (m)\n" % r.choice("ab") for _ in range(64)))
            f.write("\n")


def distinct_stacks(path, samples):
    with open(path, "w") as f:
        for i in range(samples):
            f.write("a 1 1.%06d: 1 cpu-clock:\n\t%x f%d (m)\n\tffff main (m)\n\n" % (i, i, i))


def test_hostile_profiles_are_refused_at_the_size_bound(daemon, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    tiny_frames(d / "tiny.perf", 30000)                   # 18 MB of text
    distinct_stacks(d / "distinct.perf", 400000)          # 25 MB
    with open(d / "ordinary.perf", "wb") as f:
        subprocess.run([binary("gen_profile"), "25"], stdout=f, check=True, timeout=60)
    port = free_port()
    fs = daemon([binary("fntrace-flamescope"), "--port", str(port), "--dir", str(d)], port)
    for name in ("tiny.perf", "distinct.perf"):
        status, _, body = http("GET", f"{fs.url}/heatmap/?filename={name}")
        assert status == 507, (name, status, body[:300])
        assert b"size bound" in body
        t = time.monotonic()
        assert http("GET", f"{fs.url}/heatmap/?filename={name}")[0] == 507
        assert time.monotonic() - t < 0.5                 # the refusal is cached
    s = json.loads(http("GET", fs.url + "/api/v1/stats")[2])["cache"]
    assert s["refusals"] == 2, s
    assert http("GET", f"{fs.url}/heatmap/?filename=ordinary.perf")[0] == 200
