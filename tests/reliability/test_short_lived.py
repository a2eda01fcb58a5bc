"""Short-lived children (issue: 1,000 x /bin/true gave 1 sample and the header said
0 lost).  A per-task cpu-clock event samples a task only after a whole period of its CPU
time, so a child that ends sooner is rarely sampled: `perf record -F 200 -g` misses them
the same way.  Both must miss most of what the workload's CPU time would give at 200 Hz,
fntrace's count must match perf's within 15% of that, and fntrace must say in the header
(and its log) how many tasks were structurally missed.  Bounded: ~10 s."""
import re
import resource
import shutil
import subprocess

import pytest

from conftest import binary

WORKLOAD = ["sh", "-c", "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done"]


def workload_cpu_s():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(WORKLOAD, check=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def perf_samples(tmp_path):
    data = tmp_path / "perf.data"
    subprocess.run(["perf", "record", "-q", "-F", "200", "-g", "-o", str(data), "--", *WORKLOAD],
                   check=True, capture_output=True, timeout=120)
    out = subprocess.run(["perf", "script", "-i", str(data), "-F", "tid"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def fntrace_samples(text):
    return sum(1 for line in text.splitlines()
               if line and not line.startswith(("#", "\t", " ")) and "cpu-clock" in line)


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")
def test_short_lived_children_match_perf_and_are_reported(tmp_path):
    out = tmp_path / "t.perf"
    r = subprocess.run([binary("fntrace"), "record", "-o", str(out), "--", *WORKLOAD],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    ours, perfs = fntrace_samples(text), perf_samples(tmp_path)
    expected = workload_cpu_s() * 200               # what sampling every task would give
    assert ours <= expected / 2 and perfs <= expected / 2, (ours, perfs, expected)
    assert abs(ours - perfs) <= max(5, 0.15 * expected), (ours, perfs, expected)
    m = re.search(r"^# fntrace unsampled tasks : (\d+) .*--backend bpf -a", text, re.M)
    assert m, text[:2000]
    assert int(m.group(1)) >= 900
    assert "short-lived tasks not sampled" in r.stderr
