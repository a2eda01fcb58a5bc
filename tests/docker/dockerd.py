"""A private Docker daemon for the container tests, and the images they need.

The tests never use the machine's Docker: they start Debian's dockerd on a socket of
their own (no bridge, no iptables, overlay2, or vfs where overlayfs is missing), keep its
data-root under build/docker-cache/ so image layers survive between runs, and stop it by
pid at the end.  The `debian:bookworm-slim` base image comes from no registry: it is
debootstrap's minbase of bookworm, made once and cached as a tarball next to the data-root.

Also usable from the shell (make demo-docker uses it when no Docker is running):
    python3 tests/docker/dockerd.py start     prints DOCKER_HOST=… and leaves it running
    python3 tests/docker/dockerd.py stop
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("FNTRACE_ROOT", Path(__file__).resolve().parents[2]))
BUILD = ROOT / os.environ.get("BUILD", "build")
CACHE = Path(os.environ.get("FNTRACE_DOCKER_CACHE", BUILD / "docker-cache"))
BASE_IMAGE = "debian:bookworm-slim"
BASE_TAR = CACHE / "bookworm-minbase.tar"
MIRROR = os.environ.get("FNTRACE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Debian's client talks to Debian's daemon; a newer client elsewhere on PATH would ask for
# an API version the 20.10 daemon refuses.
DOCKER = shutil.which("docker", path="/usr/bin") or shutil.which("docker")
DOCKERD = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
COMPOSE = shutil.which("docker-compose") or shutil.which("docker-compose", path="/usr/bin")


class DockerError(RuntimeError):
    pass


def _run(argv, env=None, timeout=None, check=True, input=None):
    p = subprocess.run(argv, env=env, timeout=timeout, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    if check and p.returncode != 0:
        raise DockerError(f"{' '.join(map(str, argv))} exited {p.returncode}:\n{out[-6000:]}")
    return p.returncode, out


def _overlay_ok():
    try:
        return "overlay" in Path("/proc/filesystems").read_text()
    except OSError:
        return False


class Dockerd:
    """One dockerd of our own.  .env is os.environ plus DOCKER_HOST for clients."""

    def __init__(self, data_root=None, driver=None):
        if os.geteuid() != 0:
            raise DockerError("the Docker tests start their own dockerd and must run as root")
        for what, path in (("dockerd", DOCKERD), ("docker", DOCKER)):
            if not path:
                raise DockerError(f"{what} not found: install Debian's docker.io (make deps)")
        # overlay2 where the data-root's filesystem has it (a container's layer costs
        # nothing), else vfs (runs anywhere; every container copies its whole image)
        self.driver = driver or os.environ.get("FNTRACE_DOCKER_STORAGE") or (
            "overlay2" if _overlay_ok() else "vfs")
        self.data_root = Path(data_root or CACHE / f"data-{self.driver}")
        self.data_root.mkdir(parents=True, exist_ok=True)
        # the exec-root holds unix sockets (containerd's): keep its path short
        self.run_dir = Path(tempfile.mkdtemp(prefix="ftd", dir="/tmp"))
        self.sock = self.run_dir / "d.sock"
        self.pidfile = self.run_dir / "d.pid"
        self.log_path = CACHE / "dockerd.log"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}")
        self.env.pop("DOCKER_CONTEXT", None)
        self.proc = None

    def start(self, timeout=60):
        try:
            return self._start(timeout)
        except DockerError:
            if self.driver != "overlay2" or os.environ.get("FNTRACE_DOCKER_STORAGE"):
                raise
            self.driver = "vfs"
            self.data_root = self.data_root.with_name("data-vfs")
            self.data_root.mkdir(parents=True, exist_ok=True)
            self.run_dir.mkdir(exist_ok=True)
            return self._start(timeout)

    def _start(self, timeout):
        lock = self.data_root / "engine-pid"
        argv = [DOCKERD, "--bridge=none", "--iptables=false", "--ip-masq=false",
                f"--storage-driver={self.driver}", "--data-root", str(self.data_root),
                "--exec-root", str(self.run_dir / "x"), "-H", f"unix://{self.sock}",
                "--pidfile", str(self.pidfile)]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DockerError(f"dockerd exited {self.proc.returncode} at start "
                                  f"(another daemon on {self.data_root}? {lock}):\n{self.log()}")
            if self.sock.exists() and _run([DOCKER, "version"], env=self.env, check=False)[0] == 0:
                return self
            time.sleep(0.2)
        self.stop()
        raise DockerError(f"dockerd did not answer within {timeout}s:\n{self.log()}")

    def log(self, tail=4000):
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def prune(self):
        """Drops the images a rebuild left untagged (older versions), so the cache does not
        grow forever; the tagged images and build stages keep their layers."""
        self.docker("image", "prune", "-f", check=False)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def docker(self, *args, timeout=900, check=True, input=None):
        """Runs the docker client against this daemon; returns its output."""
        return _run([DOCKER, *map(str, args)], env=self.env, timeout=timeout, check=check,
                    input=input)[1]

    def has_image(self, ref):
        return _run([DOCKER, "image", "inspect", ref], env=self.env, check=False)[0] == 0

    def server_version(self):
        return self.docker("version", "--format", "{{.Server.Version}}").strip()

    def ensure_base(self):
        """debian:bookworm-slim from debootstrap's minbase, cached as a tarball."""
        if self.has_image(BASE_IMAGE):
            return
        if not BASE_TAR.exists():
            make_base_tar()
        with open(BASE_TAR, "rb") as f:
            p = subprocess.run([DOCKER, "import", "-", BASE_IMAGE], stdin=f, env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        if p.returncode != 0:
            raise DockerError(f"docker import of {BASE_TAR} failed:\n{p.stdout.decode()}")

    def build(self, tag, context, dockerfile=None, build_args=None, target=None, timeout=1800):
        """docker build --network host; returns the build log."""
        argv = ["build", "--network", "host", "-t", tag] + (["--target", target] if target else [])
        if dockerfile:
            argv += ["-f", dockerfile]
        for k, v in (build_args or {}).items():
            argv += ["--build-arg", f"{k}={v}"]
        return self.docker(*argv, context, timeout=timeout)

    def inspect(self, ref):
        return json.loads(self.docker("inspect", ref))[0]


def make_base_tar():
    """debootstrap --variant=minbase bookworm into a scratch dir, tarred into the cache."""
    deb = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin")
    if not deb:
        raise DockerError("debootstrap not found: install it (make deps) to make the "
                          f"{BASE_IMAGE} base image")
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    try:
        _run([deb, "--variant=minbase", "bookworm", str(rootfs), MIRROR], timeout=900)
        # what the official slim image does: no apt lists or caches in the layer
        for d in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for p in (rootfs / d).glob("*"):
                if p.is_file():
                    p.unlink()
        tmp = BASE_TAR.with_suffix(".part")
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tmp), "."], timeout=600)
        os.replace(tmp, BASE_TAR)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def main(argv):
    state = CACHE / "demo-dockerd.json"
    if argv[1:] == ["start"]:
        d = Dockerd().start()
        d.ensure_base()
        state.write_text(json.dumps({"pid": d.proc.pid, "run_dir": str(d.run_dir)}))
        print(d.env["DOCKER_HOST"])
        return 0
    if argv[1:] == ["stop"]:
        s = json.loads(state.read_text())
        os.kill(s["pid"], signal.SIGTERM)
        for _ in range(150):
            try:
                os.kill(s["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        shutil.rmtree(s["run_dir"], ignore_errors=True)
        state.unlink()
        return 0
    print(__doc__.split("Also usable")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
