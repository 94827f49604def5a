"""A Debian machine booted by systemd-nspawn, for trying the systemd units under a real systemd.

The units' sandboxing can only be judged by starting them under the systemd that
enforces it. This builds a minimal Debian (debootstrap, cached between runs), installs
thinkt into it from wheels made on the host (the guest has no network), boots it with
``systemd-nspawn --boot`` on a private network, and runs commands inside it with
``nsenter``. It needs root, debootstrap and systemd-nspawn (Debian's packages
``debootstrap`` and ``systemd-container``); :func:`missing_requirements` says what is
missing so the tests can skip with that reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
#: Debian 12 (systemd 252, Python 3.11) and Debian 13 (systemd 257, Python 3.13): the
#: systemd releases before and after user units started implying PrivateUsers= (253)
#: and moving their StateDirectory= to ~/.local/state (254).
SUITES = ("bookworm", "trixie")
MIRROR = "http://deb.debian.org/debian"
#: nginx: the proxy README.rst's server steps put in front of the collector (the guest has
#: no network, so it comes with the tree; their ``apt-get install -y nginx`` then finds it
#: installed). ca-certificates brings openssl, which makes the server's certificate.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "libpam-systemd", "python3", "python3-venv",
            "curl", "ca-certificates", "procps", "nginx")
EXTRAS = "collector,metrics,exporter"
#: Built once per machine, one tree per suite and package list; a rebuild is `rm -rf` of
#: this directory.
CACHE = Path(os.environ.get("THINKT_TEST_ROOTFS_CACHE", "/var/tmp/thinkt-test-rootfs"))


def poll(probe: Callable[[], T], done: Callable[[T], bool], timeout: float,
         interval: float = 0.3) -> T:
    """Call ``probe`` until ``done`` says yes to its value or ``timeout`` passes; return
    the last value (the caller asserts on it, so a failure shows what was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class BootError(RuntimeError):
    """The container could not be started or did not finish booting (this host's limits)."""


def missing_requirements() -> str | None:
    """Why a machine cannot be booted here, or None when it can."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "booting a container needs root on Linux"
    for tool, package in (("debootstrap", "debootstrap"), ("systemd-nspawn", "systemd-container"),
                          ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {package})"
    return None


def base_root(suite: str) -> Path:
    """Return a minimal Debian ``suite`` tree with systemd and Python, built on first use.

    :raises RuntimeError: debootstrap failed (its log tail is in the message).
    """
    # Named after what debootstrap is asked for, so a changed package list builds a new
    # tree instead of taking a cached one that lacks a package.
    recipe = " ".join(["minbase", MIRROR, suite, *PACKAGES])
    done = CACHE / f"{suite}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if (done / "etc" / "os-release").exists():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"{suite}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    built = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite,
         str(partial), MIRROR], capture_output=True, text=True, timeout=1200)
    if built.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError("debootstrap failed: " + (built.stdout + built.stderr)[-2000:])
    try:
        partial.rename(done)  # atomic: a half-built tree is never taken for a cached one
    except OSError:  # built meanwhile by someone else
        shutil.rmtree(partial, ignore_errors=True)
    for stale in CACHE.iterdir():  # trees of this suite for an older package list (~300 MB)
        if stale != done and (stale.name == suite or stale.name.startswith(f"{suite}-")):
            shutil.rmtree(stale, ignore_errors=True)
    return done


def _in_root(root: Path, code: str) -> str:
    """What the guest's own python3 prints for ``code``, run chrooted into ``root``."""
    done = subprocess.run(["chroot", str(root), "python3", "-c", code], capture_output=True,
                          text=True, check=True, timeout=60)
    return done.stdout.strip()


def _platform_options(glibc: str) -> list[str]:
    """pip's --platform for every manylinux tag the guest's glibc can load.

    pip takes the tags literally: manylinux_2_36 alone would not match a
    manylinux_2_28 wheel.
    """
    major, minor = (int(part) for part in glibc.split(".")[:2])
    arch = platform.machine()
    tags = [f"manylinux_{major}_{y}_{arch}" for y in range(minor, 4, -1)]
    tags += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return [option for tag in tags for option in ("--platform", tag)]


def install_thinkt(root: Path, wheels: Path) -> None:
    """Install this checkout, with the server and laptop extras, into /opt/thinkt of ``root``.

    The wheels are fetched on the host for the guest's Python and glibc (the host may
    run another Python), so the guest installs offline.
    """
    wheels.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(wheels.glob("thinkt-*.whl"))
    subprocess.run([*pip, "download", "-d", str(wheels), "--only-binary=:all:",
                    "--implementation", "cp", "--python-version",
                    _in_root(root, "import sys; print('%d%d' % sys.version_info[:2])"),
                    *_platform_options(_in_root(root, "import platform; "
                                                      "print(platform.libc_ver()[1])")),
                    f"{wheel}[{EXTRAS}]"],
                   check=True, capture_output=True, timeout=600)
    shutil.copytree(wheels, root / "opt" / "wheels")
    subprocess.run(["chroot", str(root), "python3", "-m", "venv", "/opt/thinkt"],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(["chroot", str(root), "/opt/thinkt/bin/pip", "install", "-q", "--no-index",
                    "--find-links", "/opt/wheels", f"thinkt[{EXTRAS}]"],
                   check=True, capture_output=True, timeout=600)


class Machine:
    """A booted container: run commands in it as root or as a user, query its collector."""

    def __init__(self, root: Path, console_log: Path, name: str = "thinkt-test"):
        self.root = root
        self.console_log = console_log
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.leader = 0

    def boot(self, timeout: float = 180.0) -> "Machine":
        """Start systemd in the container; return once it has finished booting."""
        with open(self.console_log, "ab") as console:
            # --keep-unit/--register=no: the host need not run systemd itself.
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "--boot", "--quiet", "--register=no", "--keep-unit",
                 "--private-network", f"--machine={self.name}", "-D", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.leader:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BootError("the container did not start:\n" + self.console())
            self.leader = _child_of(self.proc.pid)
            time.sleep(0.2)
        # systemd answers on its bus only once it has set it up: until then the query
        # fails at once, with nothing on stdout. Ask again until it says something.
        said = poll(lambda: self.run("systemctl", "is-system-running", "--wait", check=False,
                                     timeout=max(1.0, deadline - time.monotonic())),
                    lambda done: done.stdout.strip(), max(0.0, deadline - time.monotonic()),
                    interval=0.5)
        state = said.stdout.strip()
        if state not in ("running", "degraded"):
            raise BootError(f"the container did not finish booting ({state or said.stderr}):\n"
                            + self.console())
        return self

    def reboot(self, timeout: float = 180.0) -> "Machine":
        """Power the container off and boot it again from the same tree, as a server
        reboots: what comes up, and in which order, is what its enabled units say."""
        self.shutdown()
        self.proc, self.leader = None, 0
        return self.boot(timeout)

    def console(self) -> str:
        return self.console_log.read_text(errors="replace")[-4000:]

    def run(self, *args: str, user: str | None = None, check: bool = True,
            timeout: float = 120.0) -> subprocess.CompletedProcess:
        """Run a command inside the container (as root, or as ``user`` with its manager)."""
        # A clean environment, as a login would give: nothing of the test process's
        # (its HOME, XDG_* or THINKT_* variables) may leak into the machine.
        environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "LANG=C.UTF-8"]
        if user is None:
            environment.append("HOME=/root")
        else:
            uid = self.run("id", "-u", user).stdout.strip()
            environment += [f"HOME=/home/{user}", f"USER={user}", f"LOGNAME={user}",
                            f"XDG_RUNTIME_DIR=/run/user/{uid}",
                            f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus"]
        command = ["env", "-i", *environment, *args]
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        done = subprocess.run(["nsenter", "-t", str(self.leader), "-a", *command],
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{shlex.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")
        return done

    def show(self, unit: str, *properties: str, user: str | None = None) -> dict[str, str]:
        """``systemctl show`` of a unit as a dict."""
        prefix = ("systemctl", "--user") if user else ("systemctl",)
        out = self.run(*prefix, "show", unit, "-p", ",".join(properties), user=user).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, unit: str, state: str, user: str | None = None,
                 timeout: float = 120.0) -> dict[str, str]:
        """Wait until ``unit`` has ActiveState ``state``; return its last ``show``."""
        return poll(lambda: self.show(unit, "ActiveState", "SubState", "MainPID", "NRestarts",
                                      "Result", "ExecMainStatus", user=user),
                    lambda shown: shown["ActiveState"] == state, timeout)

    def http(self, method: str, path: str, body: object = None, token: str | None = None,
             base: str = "http://127.0.0.1:4319", cacert: str | None = None
             ) -> tuple[int, object]:
        """One request to the collector inside the container; return (status, parsed body)."""
        args = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}", base + path]
        if cacert:
            args += ["--cacert", cacert]
        if token:
            args += ["-H", f"Authorization: Bearer {token}"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        text, _, status = self.run(*args).stdout.rpartition("\n")
        try:
            return int(status), json.loads(text)
        except ValueError:
            return int(status), text

    def journal(self, unit: str, user: bool = False) -> str:
        """What the unit's processes and its manager logged about it."""
        return self.run("journalctl", "--no-pager", "-o", "cat",
                        "--user-unit" if user else "--unit", unit, check=False).stdout

    def shutdown(self, timeout: float = 60.0) -> None:
        """Power the container off; kill it if it does not go within ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.leader:
            try:
                self.run("systemctl", "poweroff", "--no-block", check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        # Killing systemd-nspawn alone leaves the container's systemd and everything it
        # runs behind, orphaned; SIGKILL to the container's PID 1 ends its whole PID
        # namespace, and nspawn exits once it sees that.
        if self.leader:
            try:
                os.kill(self.leader, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _child_of(pid: int) -> int:
    """The first child of ``pid`` (nspawn's child is the container's PID 1), or 0."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(children[0]) if children else 0
