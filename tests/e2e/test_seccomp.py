"""End to end: fntrace-seccomp and the shipped profiles, without Docker.

What a user checks: every subcommand has --help; `derive` regenerates the shipped
profiles byte for byte from Docker's default; `diff` of the default and fntrace-perf is
perf_event_open alone (and nothing once CAP_PERFMON or CAP_SYS_ADMIN is in the set);
under Docker's default profile `fntrace record` fails for an unprivileged user with its
clear EPERM message, under fntrace-perf it records the workload's functions; kexec_load,
mount and bpf stay blocked under fntrace-perf; malformed profiles are refused, by
`check` and by `exec` (which then runs nothing), with a message naming the problem."""
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT, binary  # noqa: E402
from test_tracer_record import frames_of, parse  # noqa: E402

SECCOMP = binary("fntrace-seccomp")
FNTRACE = binary("fntrace")
HOTSPOTS = binary("hotspots")
SYSPROBE = binary("sysprobe")
PROFILES = ROOT / "seccomp" / "profiles"
DEFAULT = PROFILES / "docker-default.json"
PERF = PROFILES / "fntrace-perf.json"
BPF = PROFILES / "fntrace-bpf.json"
# what `docker run` puts in a container's bounding set (moby's default capabilities)
DOCKER_CAPS = ("CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_MKNOD,CAP_NET_RAW,"
               "CAP_SETGID,CAP_SETUID,CAP_SETFCAP,CAP_SETPCAP,CAP_NET_BIND_SERVICE,"
               "CAP_SYS_CHROOT,CAP_KILL,CAP_AUDIT_WRITE")


def run(args, **kw):
    return subprocess.run([SECCOMP, *map(str, args)], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


def needs_root():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to switch to an unprivileged user")


@pytest.mark.parametrize("cmd", ["derive", "diff", "check", "exec"])
def test_every_subcommand_has_help(cmd):
    r = run([cmd, "--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: fntrace-seccomp {cmd}")
    assert "exit status" in r.stdout


def test_usage_errors():
    assert run([]).returncode == 2
    assert run(["frobnicate"]).returncode == 2
    assert run(["derive", "--allow", "bpf"]).returncode == 2          # no --base
    assert run(["diff", DEFAULT]).returncode == 2
    r = run(["exec", PERF])
    assert r.returncode == 2 and "no command" in r.stderr


@pytest.mark.parametrize("allow,shipped", [("perf_event_open", PERF),
                                           ("perf_event_open,bpf", BPF)])
def test_derive_regenerates_shipped_profiles(allow, shipped):
    args = ["derive", "--base", DEFAULT]
    for name in allow.split(","):
        args += ["--allow", name]
    r = subprocess.run([SECCOMP, *map(str, args)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == shipped.read_bytes(), f"regenerate {shipped.name} with: fntrace-seccomp " \
        f"derive --base seccomp/profiles/docker-default.json --allow {allow}"


def test_derived_profiles_differ_from_default_only_by_the_allowed_names():
    base = DEFAULT.read_text().splitlines()
    for path, names in ((PERF, ["perf_event_open"]), (BPF, ["bpf", "perf_event_open"])):
        changed = [l for l in difflib.ndiff(base, path.read_text().splitlines())
                   if l[:2] in ("+ ", "- ")]
        assert all(l.startswith("+ ") for l in changed), changed
        assert sorted(l[2:].strip().strip('",') for l in changed) == names, changed


def test_check_shipped_profiles():
    r = run(["check", DEFAULT, PERF, BPF])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok:") == 3


def diff_lines(a, b, caps=None):
    r = run(["diff", a, b] + (["--caps", caps] if caps is not None else []))
    assert r.returncode in (0, 1), r.stderr
    lines = [l for l in r.stdout.splitlines() if not l.startswith("#")]
    assert (r.returncode == 1) == bool(lines)
    return lines


def test_diff_default_against_perf_is_perf_event_open():
    assert diff_lines(DEFAULT, PERF) == ["+ perf_event_open"]          # Docker's default caps
    assert diff_lines(DEFAULT, PERF, "none") == ["+ perf_event_open"]
    assert diff_lines(PERF, DEFAULT, DOCKER_CAPS) == ["- perf_event_open"]
    # Docker's default already allows perf_event_open to CAP_PERFMON or CAP_SYS_ADMIN
    assert diff_lines(DEFAULT, PERF, "CAP_PERFMON") == []
    assert diff_lines(DEFAULT, PERF, "CAP_SYS_ADMIN") == []
    assert diff_lines(DEFAULT, BPF, "none") == ["+ bpf", "+ perf_event_open"]
    assert diff_lines(DEFAULT, BPF, "CAP_BPF,CAP_PERFMON") == []


def test_diff_sees_capability_conditions(tmp_path):
    # the same default evaluated with and without CAP_SYS_ADMIN differs on clone's flags
    r = run(["diff", DEFAULT, DEFAULT, "--caps", "all"])
    assert r.returncode == 0 and "caps CAP_CHOWN" in r.stdout
    stricter = tmp_path / "no-ptrace.json"
    stricter.write_text(DEFAULT.read_text().replace('"ptrace"', '"getpid"'))
    assert diff_lines(DEFAULT, stricter, "none") == ["- ptrace"]
    # clone for everyone, against the default's "clone without namespace flags"
    looser = tmp_path / "clone.json"
    r = subprocess.run([SECCOMP, "derive", "--base", str(DEFAULT), "--allow", "clone"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    looser.write_bytes(r.stdout)
    assert diff_lines(DEFAULT, looser, "none") == [
        f"~ clone ({DEFAULT}: allowed if its arguments match; {looser}: allowed)"]
    assert diff_lines(DEFAULT, looser, "CAP_SYS_ADMIN") == []


# --- exec: fntrace record under the profiles, as the unprivileged user 65534 ---------

@pytest.fixture
def nobody_dir():
    """A directory user 65534 can use: copies of the programs and profiles, and out/."""
    d = Path(tempfile.mkdtemp(prefix="fntrace-seccomp-"))
    try:
        d.chmod(0o755)
        for b in (SECCOMP, FNTRACE, HOTSPOTS, SYSPROBE):
            shutil.copy(b, d)
        for p in (DEFAULT, PERF, BPF):
            shutil.copy(p, d)
        (d / "out").mkdir()
        (d / "out").chmod(0o777)
        yield d
    finally:
        shutil.rmtree(d)


def as_nobody(d, profile, cmd, timeout=120):
    """setpriv to 65534 with no capabilities at all, then fntrace-seccomp exec (which
    evaluates the profile against that empty bounding set) runs cmd."""
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "--bounding-set=-all", "--inh-caps=-all",
                           str(d / "fntrace-seccomp"), "exec", str(d / profile), "--", *cmd],
                          capture_output=True, text=True, timeout=timeout, cwd="/")


def test_docker_default_blocks_fntrace_record(nobody_dir):
    needs_root()
    d = nobody_dir
    r = as_nobody(d, "docker-default.json", [str(d / "fntrace"), "record", "-o",
                                             str(d / "out/t.perf"), "--", str(d / "hotspots"), "1", "0.3"])
    assert r.returncode == 3, r.stderr
    assert "perf_event_open" in r.stderr and "Operation not permitted" in r.stderr
    assert "seccomp profile must allow perf_event_open" in r.stderr
    assert not (d / "out/t.perf").exists()


def test_fntrace_perf_lets_fntrace_record(nobody_dir):
    needs_root()
    paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
    if paranoid > 2:
        pytest.skip(f"perf_event_paranoid={paranoid} forbids unprivileged perf events")
    d = nobody_dir
    out = d / "out/t.perf"
    r = as_nobody(d, "fntrace-perf.json", [str(d / "fntrace"), "record", "-o", str(out),
                                           "--", str(d / "hotspots"), "2", "0.5"])
    assert r.returncode == 0, r.stderr
    assert out.stat().st_uid == 65534
    header, samples = parse(out.read_text())
    frames = frames_of(samples)
    assert header["fntrace frames"] == "user"
    for fn in ("hot_hash", "hot_pi", "hot_fib"):
        assert any(s == fn for s, _ in frames), fn
    assert len(samples) >= 100


def probe(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    return dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l), r.stdout


def test_other_syscalls_stay_blocked_under_fntrace_perf(nobody_dir):
    needs_root()
    d = nobody_dir
    names = ["kexec_load", "mount", "bpf", "perf_event_open"]
    # without a filter the calls reach the kernel (which refuses their arguments)
    free, _ = probe([str(d / "sysprobe"), *names])
    assert not any(free[n].startswith("errno=1 ") for n in ("mount", "bpf")), free
    # unprivileged user under fntrace-perf: blocked by the filter; perf_event_open reaches
    # the kernel (EFAULT for its NULL attr)
    got, text = probe(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       "--bounding-set=-all", str(d / "fntrace-seccomp"), "exec",
                       str(d / "fntrace-perf.json"), "--", str(d / "sysprobe"), *names])
    assert "seccomp=2" in text
    for n in ("kexec_load", "mount", "bpf"):
        assert got[n] == "errno=1 EPERM", (n, got)
    assert got["perf_event_open"] == "errno=14 EFAULT", got
    # even root, evaluated with Docker's default capabilities: the filter blocks them
    got, _ = probe([SECCOMP, "exec", str(d / "fntrace-perf.json"), "--caps", DOCKER_CAPS, "--",
                    str(d / "sysprobe"), *names])
    for n in ("kexec_load", "mount", "bpf"):
        assert got[n] == "errno=1 EPERM", (n, got)
    # the node agent's profile opens bpf too, and nothing else
    got, _ = probe([SECCOMP, "exec", str(d / "fntrace-bpf.json"), "--caps", DOCKER_CAPS, "--",
                    str(d / "sysprobe"), *names])
    assert got["bpf"] == free["bpf"] and got["perf_event_open"] == "errno=14 EFAULT"
    assert got["mount"] == "errno=1 EPERM" and got["kexec_load"] == "errno=1 EPERM"


# --- malformed profiles ---------------------------------------------------------------

def edit(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


BASE = DEFAULT.read_text()
MALFORMED = {
    "bad-json": (BASE[:-40], "bad JSON at line"),
    "unknown-action": (edit(BASE, '"action": "SCMP_ACT_ALLOW"', '"action": "SCMP_ACT_ALLOWED"'),
                       'syscalls[0].action: unknown action "SCMP_ACT_ALLOWED"'),
    "unknown-syscall": (edit(BASE, '"accept4"', '"accept5"'),
                        'syscalls[0].names[1]: unknown syscall "accept5"'),
    "wrong-type": (edit(BASE, '"defaultErrnoRet": 1', '"defaultErrnoRet": "EPERM"'),
                   "defaultErrnoRet: must be a number, not a string"),
    "wrong-type-index": (edit(BASE, '"index": 0', '"index": "0"'),
                         "syscalls[2].args[0].index: must be a number, not a string"),
    "bad-arch": (edit(BASE, '"SCMP_ARCH_X32"', '"SCMP_ARCH_X33"'),
                 'archMap[0].subArchitectures[1]: unknown architecture "SCMP_ARCH_X33"'),
    "bad-op": (edit(BASE, '"op": "SCMP_CMP_LT"', '"op": "SCMP_CMP_LESS"'),
               'syscalls[2].args[0].op: unknown operator "SCMP_CMP_LESS"'),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_profiles_are_refused(case, tmp_path):
    text, message = MALFORMED[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    r = run(["check", path])
    assert r.returncode == 1 and message in r.stderr and str(path) in r.stderr, r.stderr
    marker = tmp_path / "ran"
    r = run(["exec", path, "--", "touch", marker])
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert not marker.exists()
    r = run(["derive", "--base", path, "--allow", "perf_event_open"])
    assert r.returncode == 1 and message in r.stderr and r.stdout == ""


def test_exec_refuses_a_filter_it_cannot_express(tmp_path):
    path = tmp_path / "notify.json"
    path.write_text(edit(BASE, '"action": "SCMP_ACT_ALLOW"', '"action": "SCMP_ACT_NOTIFY"'))
    marker = tmp_path / "ran"
    r = run(["exec", path, "--", "touch", marker])
    assert r.returncode == 1 and "refused" in r.stderr and "SCMP_ACT_NOTIFY" in r.stderr
    assert not marker.exists()


def test_exec_runs_the_command_under_the_filter(tmp_path):
    r = subprocess.run([SECCOMP, "exec", str(PERF), "--", "grep", "^Seccomp:", "/proc/self/status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.split() == ["Seccomp:", "2"], r.stderr
    r = run(["exec", PERF, "--", "sh", "-c", "exit 7"])
    assert r.returncode == 7
    r = run(["exec", PERF, "--", str(tmp_path / "missing")])
    assert r.returncode == 127 and "missing" in r.stderr
