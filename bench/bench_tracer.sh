#!/usr/bin/env bash
# bench_tracer — fntrace record against perf, side by side in one run, on the same busy
# target (build/tests/progs/busyloop, a fixed amount of work worth ~10 CPU-seconds):
#   - CPU time (user+sys) of `fntrace record -F 200 -p PID` against
#     `perf record -F 200 -g -p PID` plus `perf script` (what fntrace replaces);
#   - bytes per sample of the perf-script text each produces;
#   - the target's slowdown: its CPU time for the same work, traced vs untraced
#     (baseline = mean of an untraced run before and after).
#   - what sampling costs the target at each of its context switches (tests/progs/pingpong:
#     a process and an untraced child ping-ponging a byte on one CPU), untraced, traced by
#     fntrace and by perf record: the kernel starts and cancels a sampled task's cpu-clock
#     timer whenever the task is switched in and out, whoever opened the event.
# Goal (issue 3): fntrace's CPU at most a quarter of perf's, slowdown under 1 %.
# BENCH_TRACER_SECONDS changes the target's size (default 10).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FNTRACE=$BUILD/bin/fntrace
TARGET=$BUILD/tests/progs/busyloop
PINGPONG=$BUILD/tests/progs/pingpong
for f in "$FNTRACE" "$TARGET"; do
    [ -x "$f" ] || { echo "bench: tracer skipped ($f is not built)"; exit 0; }
done
perf --version >/dev/null 2>&1 || { echo "bench: tracer skipped (perf is not installed or does not run here)"; exit 0; }
exec /usr/bin/python3 - "$FNTRACE" "$TARGET" "${BENCH_TRACER_SECONDS:-10}" "$PINGPONG" <<'PY'
import os, re, shutil, subprocess, sys, tempfile, time

fntrace, target, seconds, pingpong = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
tmp = tempfile.mkdtemp(prefix="bench-tracer-")


def cpu(ru):
    return ru.ru_utime + ru.ru_stime


def wait(p):
    """Waits for a Popen child; returns its CPU seconds (user+sys, all its threads)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return cpu(ru)


def run_target(n):
    p = subprocess.Popen([target, str(n)], stderr=subprocess.DEVNULL)
    return p


def traced(n, tracer_argv, out_path):
    t = run_target(n)
    time.sleep(0.05)
    argv = [a.replace("{pid}", str(t.pid)) for a in tracer_argv]
    with open(out_path, "wb") as out:
        tr = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        target_cpu = wait(t)
        tracer_cpu = wait(tr)
    return target_cpu, tracer_cpu


def samples(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if re.search(rb" cpu-clock[^ ]*:\s*$", line))


# calibrate the fixed amount of work to ~`seconds` of CPU
t = run_target(100)
c = wait(t)
n = max(100, int(100 * seconds / max(c, 1e-3)))

base1 = wait(run_target(n))
fn_out = os.path.join(tmp, "fntrace.perf")
fn_target, fn_cpu = traced(n, [fntrace, "record", "-F", "200", "-p", "{pid}"], fn_out)
pdata = os.path.join(tmp, "perf.data")
pf_target, pf_record = traced(n, ["perf", "record", "-q", "-F", "200", "-g", "-p", "{pid}",
                                  "-o", pdata], os.devnull)
pf_out = os.path.join(tmp, "perf.txt")
with open(pf_out, "wb") as out:
    ps = subprocess.Popen(["perf", "script", "--header", "-i", pdata], stdout=out,
                          stderr=subprocess.DEVNULL)
    pf_script = wait(ps)
base2 = wait(run_target(n))
base = (base1 + base2) / 2

pf_cpu = pf_record + pf_script
fn_n, pf_n = samples(fn_out), samples(pf_out)
fn_bps = os.path.getsize(fn_out) / max(fn_n, 1)
pf_bps = os.path.getsize(pf_out) / max(pf_n, 1)
fn_slow = 100 * (fn_target / base - 1)
pf_slow = 100 * (pf_target / base - 1)
print(f"bench: tracer_cpu target_cpu_s={base:.2f} fntrace_cpu_s={fn_cpu:.3f} "
      f"perf_cpu_s={pf_cpu:.3f} (record={pf_record:.3f} script={pf_script:.3f}) "
      f"ratio={fn_cpu / max(pf_cpu, 1e-6):.3f} goal=0.25 "
      f"{'met' if fn_cpu <= pf_cpu / 4 else 'missed'} (vs perf record -g + perf script)")
print(f"bench: tracer_bytes fntrace_samples={fn_n} perf_samples={pf_n} "
      f"fntrace_bytes_per_sample={fn_bps:.1f} perf_bytes_per_sample={pf_bps:.1f} "
      f"ratio={fn_bps / max(pf_bps, 1e-6):.3f} (vs perf script --header)")
print(f"bench: tracer_slowdown baseline_cpu_s={base:.3f} (runs {base1:.3f} {base2:.3f}) "
      f"fntrace_pct={fn_slow:+.2f} perf_pct={pf_slow:+.2f} goal=1% "
      f"{'met' if fn_slow < 1 else 'missed'} (target CPU time for the same work, vs untraced)")


def switch_cost(tracer_argv):
    """CPU ns per ping-pong round of the target, traced by tracer_argv (None: untraced)."""
    t = subprocess.Popen([pingpong, "200000", "700"], stdout=subprocess.PIPE)
    tr = None
    if tracer_argv:
        argv = [a.replace("{pid}", str(t.pid)) for a in tracer_argv]
        tr = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = t.communicate()[0].decode()
    if tr:
        tr.wait()
    m = re.search(r"cpu_ns_per_round=(\d+)", out)
    return float(m.group(1)) if m else None


if os.access(pingpong, os.X_OK):
    modes = {"none": None,
             "fntrace": [fntrace, "record", "-F", "200", "-p", "{pid}", "-o",
                         os.path.join(tmp, "pp.perf")],
             "perf": ["perf", "record", "-q", "-F", "200", "-g", "-p", "{pid}", "-o", pdata]}
    got = {k: [] for k in modes}
    for _ in range(3):                      # interleaved rounds, median of each
        for k, argv in modes.items():
            v = switch_cost(argv)
            if v is not None:
                got[k].append(v)
    if all(got.values()):
        med = {k: sorted(v)[len(v) // 2] for k, v in got.items()}
        fx, px = med["fntrace"] - med["none"], med["perf"] - med["none"]
        print(f"bench: tracer_switch_cost untraced_ns={med['none']:.0f} "
              f"fntrace_ns={med['fntrace']:.0f} perf_ns={med['perf']:.0f} "
              f"fntrace_extra_ns={fx:.0f} perf_extra_ns={px:.0f} "
              f"ratio={fx / px if px > 0 else 0:.2f} (vs perf record -F 200 -g -p: the target's "
              f"CPU per context-switch round)")
shutil.rmtree(tmp)                          # perf keeps perf.data.old besides
PY
