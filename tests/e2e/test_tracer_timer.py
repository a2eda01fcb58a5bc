"""End to end: the timer sampler (POSIX CPU timers + a SIGPROF handler walking frame
pointers), in a program that links the tracer library and samples itself
(tests/progs/selftrace).  What a user checks: the profile agrees with `perf record -g` on
the perf backend's fidelity workload (tests/progs/hotspots.c), a program that mallocs,
locks, forks and starts and ends 1,000 threads while sampled at 1,000 Hz runs to the end
(also under ASan in `make asan`), and `fntrace record` says where the timer sampler
works instead of pretending."""
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import binary  # noqa: E402
from test_tracer_record import HOT, parse, shares  # noqa: E402

SELFTRACE = binary("selftrace")
FNTRACE = binary("fntrace")


def stats(stderr):
    m = re.search(r"tracer_cpu_seconds=([0-9.]+) samples=(\d+) lost=(\d+)", stderr)
    assert m, stderr
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def test_timer_fidelity_against_perf(tmp_path):
    """Same run, two profilers: the program samples itself with the timer sampler while
    perf record -g attaches to it.  The perf test's workload, for 15 CPU-s rather than 6:
    the timer's samples do not fall at a fixed period (the kernel sees them at its tick),
    so their shares converge like random samples and need more of them for 3 points."""
    if not shutil.which("perf") or subprocess.run(["perf", "--version"],
                                                   capture_output=True).returncode:
        pytest.skip("perf is not installed or does not run on this kernel")
    out, pdata = tmp_path / "t.perf", tmp_path / "p.data"
    st = subprocess.Popen([SELFTRACE, "-F", "200", "-o", str(out), "hotspots", "3", "5"],
                          stderr=subprocess.PIPE, text=True)
    time.sleep(0.15)                          # the workload threads run by now
    perf = subprocess.run(["perf", "record", "-q", "-F", "200", "-g", "-p", str(st.pid),
                           "-o", str(pdata)], capture_output=True, text=True, timeout=120)
    _, err = st.communicate(timeout=120)
    assert st.returncode == 0, err
    assert perf.returncode == 0, perf.stderr
    script = subprocess.run(["perf", "script", "-i", str(pdata)], capture_output=True,
                            text=True, timeout=120)
    _, ref = parse(script.stdout)
    ref = [s for s in ref if not s[0].lstrip().startswith("fntrace ")]   # the tracing thread
    header, got = parse(out.read_text())
    assert header["fntrace backend"] == "timer" and header["fntrace frames"] == "user"
    assert "sample_freq } = 200" in header["event"]
    cpu = float(re.search(r"cpu_seconds=([0-9.]+)", err).group(1))
    tracer_cpu, n, lost = stats(err)
    sampled_cpu = cpu - tracer_cpu           # the tracing thread is never sampled
    assert sampled_cpu > 14 and lost == 0 and n == len(got)
    # a timer signal that covers several periods (the kernel checks CPU timers at its
    # tick) is one sample weighted by its period, as perf's frequency mode weights them
    periods = [int(re.search(r":\s+(\d+)\s+cpu-clock", ev).group(1)) for ev, _ in got]
    weighted = sum(periods) / 5_000_000 / sampled_cpu
    raw = len(got) / sampled_cpu
    print(f"timer: {len(got)} samples ({raw:.1f}/CPU-s, weighted {weighted:.1f}/CPU-s) "
          f"in {sampled_cpu:.2f} CPU-s; perf: {len(ref)}")
    assert abs(weighted - 200) <= 10, f"{weighted:.1f} weighted samples per CPU-second, want 200 +- 5%"
    assert raw >= 0.5 * 200, f"{raw:.1f} samples per CPU-second"
    assert len(ref) > 2000
    # shares weighted by period (stackcollapse-perf.pl's weighting); perf's are all 5 ms
    total = sum(periods)
    ours = {h: 100.0 * sum(p for p, (_, fr) in zip(periods, got) if any(s == h for s, _ in fr)) / total
            for h in HOT}
    theirs = shares(ref)
    print("shares timer", ours, "unweighted", shares(got), "perf", theirs)
    for h in HOT:
        assert abs(ours[h] - theirs[h]) <= 3.0, f"{h}: {ours[h]:.1f}% vs perf {theirs[h]:.1f}%"
    # the callers are there: a hot function's sample continues to the thread's start
    assert sum(1 for _, fr in got if any(s == "worker" for s, _ in fr)) >= 0.9 * len(got)


def test_timer_signal_safety_stress(tmp_path):
    """malloc, locks, stdio, fork, and 1,000 threads started and ended while every
    thread is sampled at 1,000 Hz: the program finishes, nothing is lost, the trace reads."""
    out = tmp_path / "s.perf"
    t0 = time.monotonic()
    r = subprocess.run([SELFTRACE, "-F", "1000", "-o", str(out), "stress", "1000"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"stress: {time.monotonic() - t0:.1f} s; {r.stderr.strip()}")
    _, n, lost = stats(r.stderr)
    header, samples = parse(out.read_text())          # asserts every line's shape
    assert header["fntrace backend"] == "timer"
    assert n == len(samples) >= 100 and lost == 0
    tids = {re.search(r" (\d+)/(\d+) ", ev).group(2) for ev, _ in samples}
    assert len(tids) >= 20, len(tids)                  # short threads were sampled too
    syms = {s for _, fr in samples for s, _ in fr}
    assert {"stress_worker", "stress_short_work"} <= syms, sorted(syms)[:40]


def test_record_timer_sampler_is_in_process_only(tmp_path):
    marker = tmp_path / "ran"
    for opt in ("--sampler", "--backend"):
        r = subprocess.run([FNTRACE, "record", opt, "timer", "--", "touch", str(marker)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2
        assert "in-process" in r.stderr and "FNTRACE_SAMPLER=timer" in r.stderr
    assert not marker.exists()
    r = subprocess.run([FNTRACE, "record", "--sampler", "perf", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_record_output_checked_before_sampling(tmp_path):
    """-o into a directory that does not exist fails at once, before the command runs."""
    marker = tmp_path / "ran"
    t0 = time.monotonic()
    r = subprocess.run([FNTRACE, "record", "-o", "/nonexistent/dir/x.perf", "--",
                        "sh", "-c", f"touch {marker}; sleep 5"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert time.monotonic() - t0 < 2
    assert "/nonexistent/dir/x.perf" in r.stderr and "No such file" in r.stderr
    assert not marker.exists()
    r = subprocess.run([FNTRACE, "record", "-o", str(tmp_path), "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "is a directory" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []      # no temporary file left


def test_record_other_users_process_names_ownership(tmp_path):
    import os
    import tempfile
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to run fntrace as another user")
    d = Path(tempfile.mkdtemp(prefix="fntrace-owner-"))
    victim = subprocess.Popen(["sleep", "30"])
    try:
        d.chmod(0o777)
        shutil.copy(FNTRACE, d)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            str(d / "fntrace"), "record", "-d", "1", "-p", str(victim.pid),
                            "-o", str(d / "t.perf")], capture_output=True, text=True,
                           timeout=60, cwd="/")
    finally:
        victim.kill()
        victim.wait()
        shutil.rmtree(d)
    assert r.returncode == 3, r.stderr
    assert "belongs to another user" in r.stderr and "uid 0" in r.stderr, r.stderr
