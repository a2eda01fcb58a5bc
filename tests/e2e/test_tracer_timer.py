"""End to end: the timer sampler (POSIX CPU timers + a SIGPROF handler walking frame
pointers), in a program that links the tracer library and samples itself
(tests/progs/selftrace).  What a user checks: the profile agrees with `perf record -g` on
the perf backend's fidelity workload (tests/progs/hotspots.c), a program that mallocs,
locks, forks and starts and ends 1,000 threads while sampled at 1,000 Hz runs to the end
(also under ASan in `make asan`), and `fntrace record` says where the timer sampler
works instead of pretending."""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import binary  # noqa: E402
from proc_helpers import cpu_seconds  # noqa: E402
from test_tracer_record import HOT, parse, shares  # noqa: E402

SELFTRACE = binary("selftrace")
FNTRACE = binary("fntrace")
BUSYLOOP = binary("busyloop")


def stats(stderr):
    """selftrace's last line → (tracing thread's CPU-s, samples, lost, late)"""
    m = re.search(r"tracer_cpu_seconds=([0-9.]+) samples=(\d+) lost=(\d+) late=(\d+)", stderr)
    assert m, stderr
    return float(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4))


def repeats(samples):
    """Samples whose thread's previous sample had the same stack: a late signal's extra
    periods are written as such repeats (and two signals may also hit the same stack)."""
    last, n = {}, 0
    for ev, frames in samples:
        tid = re.search(r" \d+/(\d+) ", ev).group(1)
        n += last.get(tid) == frames
        last[tid] = frames
    return n


def selftrace_hotspots(tmp_path, secs, cpu=None):
    """Runs the fidelity workload (3 threads, SECS CPU-s each) sampling itself at 200 Hz,
    pinned to CPU when given; → (samples, stderr, sampled CPU-s, the Popen)."""
    out = tmp_path / "t.perf"
    pin = ["taskset", "-c", cpu] if cpu is not None else []
    st = subprocess.Popen([*pin, SELFTRACE, "-F", "200", "-o", str(out), "hotspots", "3",
                           str(secs)], stderr=subprocess.PIPE, text=True)
    return out, st


def check_rate(out, err):
    """The trace holds the rate asked in sample lines (what FlameScope counts): a timer
    signal that covers several periods is written as that many one-period samples."""
    header, got = parse(out.read_text())
    assert header["fntrace backend"] == "timer" and header["fntrace frames"] == "user"
    assert "sample_freq } = 200" in header["event"]
    cpu_s = cpu_seconds(err)
    tracer_cpu, n, lost, late = stats(err)
    sampled_cpu = cpu_s - tracer_cpu           # the tracing thread is never sampled
    assert lost == 0 and n == len(got)
    assert late <= repeats(got), (late, repeats(got))     # each one is in the trace
    periods = {int(re.search(r":\s+(\d+)\s+cpu-clock", ev).group(1)) for ev, _ in got}
    assert periods == {5_000_000}, sorted(periods)[:10]
    raw = len(got) / sampled_cpu
    stamps = [float(re.search(r" ([0-9]+\.[0-9]{6}):", ev).group(1)) for ev, _ in got]
    print(f"timer: {len(got)} samples ({raw:.1f}/CPU-s, {late} for late signals) in "
          f"{sampled_cpu:.2f} CPU-s over {max(stamps) - min(stamps):.1f} s")
    assert abs(raw - 200) <= 10, f"{raw:.1f} sample lines per CPU-second, want 200 +- 5%"
    return got, sampled_cpu, max(stamps) - min(stamps), late


def test_timer_fidelity_against_perf(tmp_path):
    """Same run, two profilers: the program samples itself with the timer sampler while
    perf record -g attaches to it.  The perf test's workload, for 15 CPU-s rather than 6:
    the timer's samples do not fall at a fixed period (the kernel sees them at its tick),
    so their shares converge like random samples and need more of them for 3 points."""
    if not shutil.which("perf") or subprocess.run(["perf", "--version"],
                                                   capture_output=True).returncode:
        pytest.skip("perf is not installed or does not run on this kernel")
    pdata = tmp_path / "p.data"
    out, st = selftrace_hotspots(tmp_path, 5)
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
    got, sampled_cpu, _, _ = check_rate(out, err)
    assert sampled_cpu > 14 and len(ref) > 2000
    # shares by sample count (FlameScope's; every sample is one period now), against perf's
    ours, theirs = shares(got), shares(ref)
    print("shares timer", ours, "perf", theirs)
    for h in HOT:
        assert abs(ours[h] - theirs[h]) <= 3.0, f"{h}: {ours[h]:.1f}% vs perf {theirs[h]:.1f}%"
    # the callers are there: a hot function's sample continues to the thread's start
    assert sum(1 for _, fr in got if any(s == "worker" for s, _ in fr)) >= 0.9 * len(got)


def test_timer_rate_under_competing_load(tmp_path):
    """The same workload and a busy loop pinned to one CPU: the workload's threads are
    switched out at the kernel's ticks, so their timers' expiries are seen late and one
    signal covers several periods (before the weight was written out, 115-150 lines per
    CPU-second came out of 200).  The trace must still hold 200 lines per CPU-second."""
    if not shutil.which("taskset"):
        pytest.skip("taskset is not installed")
    cpu = str(max(os.sched_getaffinity(0)))
    busy = subprocess.Popen(["taskset", "-c", cpu, BUSYLOOP, "1000000"],
                            stderr=subprocess.DEVNULL)
    try:
        out, st = selftrace_hotspots(tmp_path, 2, cpu)
        _, err = st.communicate(timeout=120)
    finally:
        busy.kill()
        busy.wait()
    assert st.returncode == 0, err
    got, sampled_cpu, wall, late = check_rate(out, err)
    assert sampled_cpu > 5.5
    assert wall > sampled_cpu * 1.1, "the busy loop did not compete with the workload"
    assert late > 0, "no signal came late: the weights were not exercised"
    print("shares timer under a competing load", shares(got))


def test_timer_signal_safety_stress(tmp_path):
    """malloc, locks, stdio, fork, and 1,000 threads started and ended while every
    thread is sampled at 1,000 Hz: the program finishes, nothing is lost, the trace reads."""
    out = tmp_path / "s.perf"
    t0 = time.monotonic()
    r = subprocess.run([SELFTRACE, "-F", "1000", "-o", str(out), "stress", "1000"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"stress: {time.monotonic() - t0:.1f} s; {r.stderr.strip()}")
    _, n, lost, _ = stats(r.stderr)
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
