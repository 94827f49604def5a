"""The systemd units, started for real under systemd 252 and 257 in booted Debian containers.

`systemd-analyze verify` only says a unit parses. These tests install the server and the
laptop in the container with README.rst's own steps (the collector on 127.0.0.1:4319,
Debian's nginx in front of it on 4318 with TLS, the exporter's user service shipping to
https://collector.example.com:4318 with the certificate as its CA), start each unit under
the systemd that enforces its sandbox, and check what the sandbox really is (user,
seccomp, read-only root, private /tmp) and that the service still does its job inside
it: ingest, search, /metrics, reload, a crash restarted, a bad config not restarted, a
clean stop; the exporter as a user service, the one-shot export and its timer; nginx
started after the collector at boot and answering for it while it is down; and the
collector serving HTTPS itself with its unit's drop-in, the other way the README gives.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.exporter.corpus import write_session
from tests.ops.machine import (REPO, SUITES, BootError, Machine, base_root,
                               install_thinkt, missing_requirements, poll)
from thinkt.collector.settings import default_workers

_missing = missing_requirements()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing is not None, reason=_missing or "")]

COLLECTOR = "thinkt-collector.service"
EXPORTER = "thinkt-exporter.service"
NGINX = "nginx.service"
USER, UID = "dev", 1000
SESSION = "live-unit-session"
HEALTH = "/v1/collector/health"
#: The collector's name on the network, which its certificate names.
PUBLIC_NAME = "collector.example.com"
#: The certificate README.rst's openssl line makes; the laptop's ca_cert is a copy.
CERT = "/etc/thinkt/tls/cert.pem"
#: How a laptop reaches the server (nginx, or the collector itself with its TLS drop-in):
#: by its name, which /etc/hosts resolves to the container, with the certificate as CA.
PUBLIC = {"base": f"https://{PUBLIC_NAME}:4318", "cacert": CERT}
#: Where the README's steps are run from: a checkout (its systemd/ and etc/ are all
#: they read), readable by the laptop's user too.
CHECKOUT = "/usr/src/thinkt"
#: The collector's default --workers (the container sees the host's cores).
WORKERS = default_workers()
#: DynamicUser= picks its uids from this range (systemd's docs).
DYNAMIC_UIDS = range(61184, 65520)


# -- README.rst's steps, run in the container ---------------------------------------------
# Copied line for line from README.rst's Deployment section;
# test_the_steps_run_here_are_the_readmes checks they still are. What the container
# cannot do as written is done otherwise, and said so here.
#: The README's lines that install thinkt from PyPI and a checkout: the guest has no
#: network, so install_thinkt() does the same into /opt/thinkt (the server's venv) from
#: wheels made on the host, and ~/.local/share/thinkt (the laptop's) is a link to it.
#: ``loginctl enable-linger`` as the user needs polkit, which a laptop has and this
#: minimal Debian does not; prepare() writes the file logind would, before the boot,
#: since the steps before it already need the user's manager.
DONE_OTHERWISE = (
    "python3 -m venv /opt/thinkt",
    "/opt/thinkt/bin/pip install '.[collector,metrics]'",
    "python3 -m venv ~/.local/share/thinkt",
    "~/.local/share/thinkt/bin/pip install '.[exporter]'",
    'loginctl enable-linger "$USER"',
)
#: "The collector as a system service": as root, on the server that laptops reach as
#: collector.example.com. The tests use the random token its head -c line makes.
SERVER_STEPS = r"""
ln -sf /opt/thinkt/bin/thinkt /opt/thinkt/bin/thinkt-collector /usr/local/bin/
install -d -m 0755 /etc/thinkt
(umask 077; head -c 32 /dev/urandom | base64 > /etc/thinkt/tokens)
printf '[collector]\nhost = "127.0.0.1"\nport = 4319\n' > /etc/thinkt/config.toml
thinkt-collector --check-config --config /etc/thinkt/config.toml --token-file /etc/thinkt/tokens
install -m 0644 systemd/thinkt-collector.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now thinkt-collector
install -d -m 0700 /etc/thinkt/tls
(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj /CN=collector.example.com -addext subjectAltName=DNS:collector.example.com -keyout /etc/thinkt/tls/key.pem -out /etc/thinkt/tls/cert.pem)
apt-get install -y nginx
install -m 0644 etc/nginx/thinkt-collector.conf /etc/nginx/sites-available/thinkt-collector
sed -i -e '/#plain$/s/^/#/' -e 's/^\( *\)#tls /\1/' /etc/nginx/sites-available/thinkt-collector
ln -sf /etc/nginx/sites-available/thinkt-collector /etc/nginx/sites-enabled/
install -d -m 0755 /etc/systemd/system/nginx.service.d
install -m 0644 systemd/nginx.service.d/thinkt-collector.conf /etc/systemd/system/nginx.service.d/
nginx -t
systemctl daemon-reload
systemctl enable nginx
systemctl restart nginx
curl -sS --cacert /etc/thinkt/tls/cert.pem --resolve collector.example.com:4318:127.0.0.1 https://collector.example.com:4318/v1/collector/health
""".strip().splitlines()
#: "The exporter as a user service": as the user, with TOKEN set to one of the
#: collector's tokens and the server's cert.pem copied to ~/.config/thinkt/collector-ca.pem.
LAPTOP_STEPS = r"""
mkdir -p ~/.local/bin ~/.config/thinkt ~/.config/systemd/user
ln -sf ~/.local/share/thinkt/bin/thinkt ~/.local/share/thinkt/bin/thinkt-exporter ~/.local/bin/
(umask 077; printf '%s\n' "$TOKEN" > ~/.config/thinkt/api-key)
printf '[exporter]\ncollector_url = "https://collector.example.com:4318"\napi_key_file = "~/.config/thinkt/api-key"\nca_cert = "~/.config/thinkt/collector-ca.pem"\n' > ~/.config/thinkt/config.toml
~/.local/bin/thinkt config show --section exporter
cp systemd/user/thinkt-exporter.service ~/.config/systemd/user/
systemctl --user daemon-reload
systemctl --user enable --now thinkt-exporter
""".strip().splitlines()
#: "Metrics": on the server, over TLS.
METRICS_STEP = r"""
curl -sS --cacert /etc/thinkt/tls/cert.pem --resolve collector.example.com:4318:127.0.0.1 \
    -H "Authorization: Bearer $(head -n 1 /etc/thinkt/tokens)" \
    https://collector.example.com:4318/metrics
""".strip().splitlines()


def readme_block(intro: str) -> list[str]:
    """The lines of README.rst's literal block after the text ``intro`` + ``::``."""
    found = re.search(re.escape(intro) + r"::\n\n((?:    .*\n|\n)+)",
                      (REPO / "README.rst").read_text())
    assert found, f"README.rst has no block after {intro!r}"
    return [line[4:] for line in found.group(1).rstrip().splitlines()]


def run_steps(machine: Machine, steps: list[str], user: str | None = None,
              **variables: str) -> str:
    """Run ``steps`` in the container from the checkout, stopping at the first that fails
    (its trace says which); return what they printed."""
    script = "\n".join([f"cd {CHECKOUT}", *steps])
    assignments = [f"{name}={value}" for name, value in variables.items()]
    return machine.run("env", *assignments, "sh", "-exc", script, user=user,
                       timeout=300).stdout


def prepare(root: Path) -> None:
    """What README.rst's steps take as given: a checkout to run them from, and a laptop
    user whose manager runs without a login session (lingering). /etc/hosts plays the
    laptop's DNS: the server's public name is this machine."""
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
                                        f"127.0.0.1\t{PUBLIC_NAME}\n")
    checkout = root / CHECKOUT.lstrip("/")
    for part in ("systemd", "etc"):
        shutil.copytree(REPO / part, checkout / part)
    subprocess.run(["chroot", str(root), "useradd", "-m", "-u", str(UID), USER], check=True,
                   timeout=60)
    linger = root / "var/lib/systemd/linger"
    linger.mkdir(parents=True, exist_ok=True)
    (linger / USER).touch()
    home = root / "home" / USER
    (home / ".local/share").mkdir(parents=True)
    (home / ".local/share/thinkt").symlink_to("/opt/thinkt")
    # The one-shot export's units, for test_the_one_shot_export_and_its_timer.
    units = home / ".config/systemd/user"
    units.mkdir(parents=True)
    for unit in ("thinkt-export.service", "thinkt-export.timer"):
        shutil.copy(REPO / "systemd" / "user" / unit, units)
    write_session(home, SESSION, 10)
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(home)], check=True, timeout=60)


def install_as_the_readme_says(machine: Machine) -> None:
    """The server's steps as root, then the laptop's as its user, on this one machine."""
    said = run_steps(machine, SERVER_STEPS)
    # The server steps end with the README's own check: health through nginx over TLS.
    assert json.loads(said.strip().splitlines()[-1]) == {"status": "ok"}, said
    # The laptop: the server's certificate (public) as its CA, and one of its tokens.
    settings = machine.root / "home" / USER / ".config/thinkt"
    settings.mkdir()
    shutil.copy(machine.root / CERT.lstrip("/"), settings / "collector-ca.pem")
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(settings)], check=True, timeout=60)
    machine.wait_for("user@1000.service", "active")
    run_steps(machine, LAPTOP_STEPS, user=USER, TOKEN=token_of(machine))
    # Settle: the exporter ships the session it found before the tests count entries.
    wait_entries(machine, SESSION, 10, token_of(machine))


def token_of(machine: Machine) -> str:
    """The collector's token: the random one README.rst's server steps made."""
    return machine.run("head", "-n", "1", "/etc/thinkt/tokens").stdout.strip()


@pytest.fixture(scope="module", params=SUITES)
def machine(request, tmp_path_factory):
    try:
        base = base_root(request.param)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Debian tree to boot (deb.debian.org unreachable?): {exc}")
    work = tmp_path_factory.mktemp("machine")
    root = work / "root"
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(root)], check=True,
                   timeout=600)
    booted = Machine(root, work / "console.log")
    try:
        install_thinkt(root, work / "wheels")
        prepare(root)
        try:
            booted.boot()
        except BootError as exc:  # e.g. a CI sandbox that allows no containers
            pytest.skip(f"systemd-nspawn cannot boot a container here: {exc}")
        install_as_the_readme_says(booted)
        yield booted
    finally:
        booted.shutdown()
        shutil.rmtree(root, ignore_errors=True)  # ~400 MB: do not keep it around


@pytest.fixture(scope="module")
def token(machine) -> str:
    return token_of(machine)


def process_status(machine: Machine, pid: int | str) -> dict[str, str]:
    text = machine.run("cat", f"/proc/{pid}/status").stdout
    return {key: value.strip() for key, _, value in
            (line.partition(":") for line in text.splitlines())}


def mounts(machine: Machine, pid: int | str) -> dict[str, str]:
    """Mount point -> (root within its file system, options) for what ``pid`` sees."""
    found = {}
    for line in machine.run("cat", f"/proc/{pid}/mountinfo").stdout.splitlines():
        fields = line.split()
        found[fields[4]] = f"{fields[3]} {fields[5]}"
    return found


def listeners(machine: Machine) -> dict[int, set[str]]:
    """Port -> the addresses TCP sockets listen on, in the container's network."""
    found: dict[int, set[str]] = {}
    for table in ("tcp", "tcp6"):
        for line in machine.run("cat", f"/proc/net/{table}").stdout.splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            words = bytes.fromhex(address)
            packed = b"".join(words[i:i + 4][::-1] for i in range(0, len(words), 4))
            found.setdefault(int(port, 16), set()).add(str(ipaddress.ip_address(packed)))
    return found


def stats(machine: Machine, token: str) -> dict:
    status, body = machine.http("GET", "/v1/traces/stats", token=token)
    assert status == 200, body
    return body


def batch(session: str, prefix: str, n: int) -> dict:
    return {"source": "claude", "session_id": session, "entries": [
        {"uuid": f"{prefix}-{i}", "role": "assistant" if i % 2 else "user",
         "timestamp": f"2026-11-25T10:00:{i:02d}Z", "text": f"live unit check {prefix} {i}",
         "model": "claude-test", "input_tokens": 3, "output_tokens": 5} for i in range(n)]}


def workers(machine: Machine, main_pid: str, timeout: float = 60.0) -> set[str]:
    """gunicorn workers (the arbiter's children that share its command line), once all
    WORKERS are up: systemd hears READY=1 before gunicorn forks them."""
    def pids() -> set[str]:
        out = machine.run("ps", "-o", "pid=,args=", "--ppid", main_pid).stdout
        return {line.split()[0] for line in out.splitlines() if "thinkt-collector" in line}

    return poll(pids, lambda found: len(found) == WORKERS, timeout)


def session_entries(machine: Machine, session: str, token: str, **where: str) -> int:
    """Entries stored for ``session`` (``where``: another base URL, its CA bundle)."""
    status, body = machine.http("GET", f"/v1/sessions/{session}/entries?limit=1000",
                                token=token, **where)
    return len(body) if status == 200 else 0  # 404 before the first entry


def wait_entries(machine: Machine, session: str, count: int, token: str,
                 timeout: float = 30.0, **where: str) -> int:
    return poll(lambda: session_entries(machine, session, token, **where),
                lambda seen: seen >= count, timeout)


def test_the_steps_run_here_are_the_readmes():
    run_here = [*SERVER_STEPS, *LAPTOP_STEPS, *METRICS_STEP]
    in_readme = [line for intro in (
        "As root, on the server that laptops reach as ``collector.example.com``",
        "copied to ``~/.config/thinkt/collector-ca.pem``",
        "not ``localhost``)") for line in readme_block(intro) if line not in DONE_OTHERWISE]
    assert run_here == in_readme


# -- the collector (system unit) -------------------------------------------------------
def test_collector_starts_inside_its_sandbox(machine, token):
    shown = machine.wait_for(COLLECTOR, "active")
    assert (shown["ActiveState"], shown["SubState"]) == ("active", "running"), \
        machine.journal(COLLECTOR)
    pid = shown["MainPID"]
    status = process_status(machine, pid)
    assert int(status["Uid"].split()[0]) in DYNAMIC_UIDS  # DynamicUser=
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"  # SystemCallFilter=
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    # PrivateUsers=: a namespace mapping only the service's own user (and root).
    assert machine.run("cat", f"/proc/{pid}/uid_map").stdout.split()[:3] != ["0", "0",
                                                                            "4294967295"]
    seen = mounts(machine, pid)
    assert seen["/"].split()[1].startswith("ro")  # ProtectSystem=strict
    assert seen["/var/lib/private/thinkt"].split()[1].startswith("rw")  # StateDirectory=
    assert "systemd-private" in seen["/tmp"]  # PrivateTmp=
    # The writer, a child spawned by the arbiter, is held by the same sandbox.
    writer = process_status(machine, stats(machine, token)["writer_pid"])
    assert writer["Seccomp"] == "2" and writer["Uid"] == status["Uid"]


def test_collector_exposure_rating_stays_low(machine):
    out = machine.run("systemd-analyze", "security", COLLECTOR, "--no-pager").stdout
    rating = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    assert rating <= 2.0, out


def test_collector_ingests_and_answers_behind_its_token(machine, token):
    # On the server itself, as the README's "used on this machine only" check does.
    assert machine.http("GET", HEALTH) == (200, {"status": "ok"})
    assert machine.http("GET", "/v1/traces/stats")[0] == 401
    status, body = machine.http("POST", "/v1/traces", batch("unit-ingest", "ingest", 6),
                                token=token)
    assert (status, body) == (200, {"accepted": 6, "duplicates": 0})
    assert session_entries(machine, "unit-ingest", token) == 6
    status, found = machine.http("GET", "/v1/traces/search?q=unit%20check%20ingest",
                                 token=token)
    assert status == 200 and found
    # README.rst's Metrics line: through nginx, over TLS.
    metrics = run_steps(machine, METRICS_STEP)
    assert re.search(r'^thinkt_entries_total\{result="accepted"\} [1-9]', metrics, re.M)
    # The token came as a credential: on no command line, in no environment, in no log.
    every_cmdline = machine.run("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert "/run/credentials/thinkt-collector.service/token" in every_cmdline
    assert token not in every_cmdline
    main_pid = machine.show(COLLECTOR, "MainPID")["MainPID"]
    assert token not in machine.run("cat", f"/proc/{main_pid}/environ").stdout
    assert token not in machine.journal(COLLECTOR)


def test_nginx_in_front_is_the_only_way_in_and_speaks_https(machine, token):
    # A laptop's view: the public name, TLS verified against the server's certificate.
    assert machine.http("GET", HEALTH, **PUBLIC) == (200, {"status": "ok"})
    status, body = machine.http("GET", "/v1/traces/stats", **PUBLIC)
    assert status == 401 and body["error"] == "unauthorized"  # the collector's, untouched
    status, body = machine.http("POST", "/v1/traces", batch("via-nginx", "nginx", 5),
                                token=token, **PUBLIC)
    assert (status, body) == (200, {"accepted": 5, "duplicates": 0})
    assert session_entries(machine, "via-nginx", token) == 5  # stored: asked directly
    # The collector names the URL the laptops use, not its loopback address.
    assert machine.http("GET", "/.well-known/thinkt.json", **PUBLIC) == \
        (200, {"collector_url": PUBLIC["base"]})
    # Plain http:// to the HTTPS port: nginx's 403, in the collector's envelope.
    status, body = machine.http("GET", HEALTH, base=f"http://{PUBLIC_NAME}:4318")
    assert status == 403 and body["error"] == "forbidden", body
    # The collector listens on loopback only; nginx on every address (and 80, Debian's
    # default site, left alone as the README says).
    listening = listeners(machine)
    assert listening[4319] == {"127.0.0.1"}, listening
    assert listening[4318] == {"0.0.0.0", "::"}, listening


def test_reload_replaces_the_workers_and_keeps_the_writer(machine, token):
    main_pid = machine.show(COLLECTOR, "MainPID")["MainPID"]
    before, writer = workers(machine, main_pid), stats(machine, token)["writer_pid"]
    assert len(before) == WORKERS
    machine.run("systemctl", "reload", COLLECTOR)
    after = poll(lambda: workers(machine, main_pid), lambda found: not found & before, 60)
    assert len(after) == WORKERS and not after & before
    assert machine.show(COLLECTOR, "MainPID")["MainPID"] == main_pid
    assert stats(machine, token)["writer_pid"] == writer
    assert machine.http("POST", "/v1/traces", batch("unit-reload", "reload", 4),
                        token=token)[0] == 200


def test_a_crash_is_restarted_and_nothing_acknowledged_is_lost(machine, token):
    stored = stats(machine, token)["total_traces"]
    restarts = int(machine.show(COLLECTOR, "NRestarts")["NRestarts"])
    # kill -9 of the arbiter's children (writer, workers), then of the arbiter. Not
    # ``systemctl kill``: systemd 252 sends that SIGKILL through cgroup.kill, which failed
    # (EIO) on a loaded host and left the unit half killed. kill's status is not checked:
    # once the arbiter is gone systemd kills what is left, and may beat kill to a pid.
    main_pid = machine.show(COLLECTOR, "MainPID")["MainPID"]
    machine.run("sh", "-c", f"kill -9 $(pgrep -P {main_pid}) {main_pid}", check=False)
    shown = poll(lambda: machine.show(COLLECTOR, "ActiveState", "NRestarts"),
                 lambda shown: shown["ActiveState"] == "active"
                 and int(shown["NRestarts"]) > restarts, 180)
    assert int(shown["NRestarts"]) == restarts + 1 and shown["ActiveState"] == "active", \
        f"{shown}\n{machine.journal(COLLECTOR)[-3000:]}"
    assert stats(machine, token)["total_traces"] == stored


def test_a_bad_config_fails_with_78_and_is_not_restarted(machine):
    config = machine.root / "etc" / "thinkt" / "config.toml"
    readmes = config.read_text()
    config.write_text(readmes + 'workers = "many"\n')
    try:
        assert machine.run("systemctl", "restart", COLLECTOR, check=False).returncode != 0
        shown = machine.wait_for(COLLECTOR, "failed")
        assert (shown["Result"], shown["ExecMainStatus"]) == ("exit-code", "78")
        time.sleep(5)  # past RestartSec=3: Restart=on-failure would have acted by now
        assert machine.show(COLLECTOR, "ActiveState")["ActiveState"] == "failed"
        assert "collector.workers" in machine.journal(COLLECTOR)
    finally:
        config.write_text(readmes)
        machine.run("systemctl", "reset-failed", COLLECTOR, check=False)
        started = machine.run("systemctl", "start", COLLECTOR, check=False)
        assert started.returncode == 0, started.stderr + machine.journal(COLLECTOR)[-3000:]
    assert machine.wait_for(COLLECTOR, "active")["ActiveState"] == "active"


# -- the exporter (user units) ---------------------------------------------------------
def test_the_user_exporter_ships_live_lines_from_inside_its_sandbox(machine, token):
    # Started by the laptop steps (enable --now), shipping through nginx over https://.
    shown = machine.wait_for(EXPORTER, "active", user=USER)
    assert shown["SubState"] == "running", machine.journal(EXPORTER, user=True)
    pid = shown["MainPID"]
    # PrivateUsers=: only the user itself is mapped; without it systemd 252 would skip
    # every file-system protection below without a word.
    assert machine.run("cat", f"/proc/{pid}/uid_map").stdout.split() == [str(UID), str(UID), "1"]
    seen = mounts(machine, pid)
    assert seen["/"].split()[1].startswith("ro")  # ProtectSystem=strict, ProtectHome=read-only
    assert seen[f"/home/{USER}/.thinkt"].split()[1].startswith("rw")  # the one writable place
    assert "systemd-private" in seen["/tmp"]
    assert process_status(machine, pid)["Seccomp"] == "2"
    assert wait_entries(machine, SESSION, 10, token) == 10, machine.journal(EXPORTER, user=True)
    home = machine.root / "home" / USER
    write_session(home, SESSION, 6, start=10)  # appended while it watches
    assert wait_entries(machine, SESSION, 16, token) == 16
    # Through nginx: the only way to https://collector.example.com:4318.
    access = machine.run("cat", "/var/log/nginx/access.log").stdout
    assert re.search(r'"POST /v1/traces HTTP/1\.1" 200 .*thinkt', access), access[-2000:]
    # From the user's shell, the status command finds this exporter (its state is in
    # ~/.thinkt, where the shell looks) and the collector (with the exporter's key file and
    # CA), and a second exporter finds the lock taken.
    shown = json.loads(machine.run("thinkt", "status", "--json", user=USER).stdout)
    assert shown["healthy"] and shown["collector"]["state"] == "up"
    assert shown["exporter"]["running"] and shown["exporter"]["status"]["pid"] == int(pid)
    second = machine.run("thinkt", "export", user=USER, check=False)
    assert second.returncode == 75, second.stderr
    machine.run("systemctl", "--user", "stop", EXPORTER, user=USER)
    shown = machine.show(EXPORTER, "ActiveState", "Result", "ExecMainStatus", user=USER)
    assert shown == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}
    offsets = home / ".thinkt" / "offsets.json"
    assert offsets.exists() and offsets.stat().st_uid == UID


def test_the_one_shot_export_and_its_timer(machine, token):
    home = machine.root / "home" / USER
    write_session(home, SESSION, 4, start=16)
    # A oneshot unit: start returns when the pass is over.
    machine.run("systemctl", "--user", "start", "thinkt-export.service", user=USER,
                timeout=120)
    shown = machine.show("thinkt-export.service", "Result", "ExecMainStatus", user=USER)
    assert shown == {"Result": "success", "ExecMainStatus": "0"}
    assert session_entries(machine, SESSION, token) == 20
    machine.run("systemctl", "--user", "enable", "--now", "thinkt-export.timer", user=USER)
    timers = machine.run("systemctl", "--user", "list-timers", "--all", "--no-pager",
                         user=USER).stdout
    assert "thinkt-export.timer" in timers and "thinkt-export.service" in timers


def test_stop_drains_and_exits_0(machine, token):
    assert machine.http("POST", "/v1/traces", batch("unit-stop", "stop", 5),
                        token=token)[0] == 200
    stored = stats(machine, token)["total_traces"]
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    shown = machine.show(COLLECTOR, "ActiveState", "Result", "ExecMainStatus")
    assert shown == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}
    journal = machine.journal(COLLECTOR)
    assert "writer stopped" in journal
    # Every process of the unit ended on its own: systemd had nothing left to kill.
    assert "SIGKILL" not in journal.split("Stopping thinkt-collector")[-1], journal
    machine.run("systemctl", "start", COLLECTOR)
    assert stats(machine, token)["total_traces"] == stored


def test_backup_and_restore_as_the_readme_says(machine, token):
    """Stop, copy, start: the exporters buffer meanwhile. A restored copy is served
    again, whatever uid the dynamic user gets this time."""
    database = "/var/lib/private/thinkt/collector.duckdb"
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    machine.run("cp", database, "/root/collector-backup.duckdb")
    machine.run("systemctl", "start", COLLECTOR)
    backed_up = stats(machine, token)["total_traces"]
    assert machine.http("POST", "/v1/traces", batch("after-backup", "later", 3),
                        token=token)[0] == 200
    assert stats(machine, token)["total_traces"] == backed_up + 3
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    machine.run("cp", "/root/collector-backup.duckdb", database)
    machine.run("systemctl", "start", COLLECTOR)
    assert stats(machine, token)["total_traces"] == backed_up
    assert session_entries(machine, "after-backup", token) == 0


# -- nginx's drop-in: ordered after the collector -----------------------------------------
def proxied(machine: Machine, path: str) -> tuple[int, dict[str, str], object]:
    """GET ``path`` as a laptop does (through nginx): status, headers, parsed body."""
    said = machine.run("curl", "-sS", "-i", "--cacert", CERT, PUBLIC["base"] + path).stdout
    head, _, body = said.partition("\n\n")  # run() reads text: CRLF arrives as LF
    status, *fields = head.splitlines()
    headers = {name.lower(): value.strip() for name, _, value in
               (field.partition(":") for field in fields)}
    return int(status.split()[1]), headers, json.loads(body)


def started_at(machine: Machine, unit: str) -> tuple[int, int]:
    """When ``unit`` began to start and when it was active (monotonic microseconds)."""
    shown = machine.show(unit, "InactiveExitTimestampMonotonic",
                         "ActiveEnterTimestampMonotonic")
    return (int(shown["InactiveExitTimestampMonotonic"]),
            int(shown["ActiveEnterTimestampMonotonic"]))


def test_at_boot_nginx_waits_for_the_collector_and_answers_for_it_while_it_is_down(
        machine, token):
    machine.reboot()
    # Both came up enabled, nginx only once the collector had said READY=1 (After=), so
    # it never answered 502 at boot; and the laptop's exporter too (enable, linger).
    for unit in (COLLECTOR, NGINX):
        assert machine.wait_for(unit, "active")["ActiveState"] == "active", \
            machine.journal(unit)[-3000:]
    assert 0 < started_at(machine, COLLECTOR)[1] <= started_at(machine, NGINX)[0]
    assert proxied(machine, HEALTH)[::2] == (200, {"status": "ok"})
    machine.wait_for("user@1000.service", "active")
    assert machine.wait_for(EXPORTER, "active", user=USER)["ActiveState"] == "active"
    # Stopping the collector (a backup) leaves nginx up, answering 502 in the envelope
    # with Retry-After, which exporters wait out.
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    assert machine.show(NGINX, "ActiveState")["ActiveState"] == "active"
    status, headers, body = proxied(machine, HEALTH)
    assert (status, headers.get("retry-after")) == (502, "5"), (headers, body)
    assert body["error"] == "unavailable" and set(body) == {"error", "message"}, body
    # Starting nginx starts the collector (Wants=) and waits for it (After=): health
    # answers at once, with no 502 in between.
    machine.run("systemctl", "restart", NGINX, timeout=150)
    assert machine.show(COLLECTOR, "ActiveState")["ActiveState"] == "active"
    assert started_at(machine, COLLECTOR)[1] <= started_at(machine, NGINX)[0]
    assert proxied(machine, HEALTH)[::2] == (200, {"status": "ok"})
    assert stats(machine, token)["total_traces"] > 0


# -- the other way: the collector serving HTTPS itself ---------------------------------
def unit_tls_dropin() -> str:
    """The drop-in that the collector unit's comments give for HTTPS (README.rst: "the
    unit's comments give the drop-in")."""
    lines = re.findall(r"^#   (\[Service\]|(?:LoadCredential|Environment)=\S*(?:tls|TLS).*)$",
                       (REPO / "systemd" / "thinkt-collector.service").read_text(), re.M)
    assert lines[0] == "[Service]" and len(lines) == 4, lines
    return "\n".join(lines) + "\n"


def test_the_collectors_own_https_with_its_drop_in_and_the_exporter_shipping_over_it(
        machine, token):
    """No proxy: the collector on the network (0.0.0.0, its default port 4318) with the
    README's certificate, for a network whose clients are trusted. The laptop keeps its
    settings: the same URL, the same CA."""
    etc = machine.root / "etc"
    machine.run("systemctl", "stop", NGINX)  # its port is the collector's now
    (etc / "thinkt" / "config.toml").write_text('[collector]\nhost = "0.0.0.0"\n')
    dropin = etc / "systemd" / "system" / f"{COLLECTOR}.d"
    dropin.mkdir()
    (dropin / "tls.conf").write_text(unit_tls_dropin())
    machine.run("systemctl", "daemon-reload")
    machine.run("systemctl", "restart", COLLECTOR)
    assert machine.wait_for(COLLECTOR, "active")["ActiveState"] == "active"
    assert machine.http("GET", HEALTH, **PUBLIC) == (200, {"status": "ok"})
    assert machine.show(NGINX, "ActiveState")["ActiveState"] == "inactive"
    assert listeners(machine)[4318] == {"0.0.0.0"}
    assert machine.run("curl", "-sS", f"http://{PUBLIC_NAME}:4318{HEALTH}",
                       check=False).returncode != 0  # TLS only
    # The key never left root's directory: the service read systemd's copy.
    assert (etc / "thinkt" / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    home = machine.root / "home" / USER
    write_session(home, SESSION, 5, start=20)
    # Running since the boot; restarted so it asks the new server at once, not at its
    # next retry.
    machine.run("systemctl", "--user", "restart", EXPORTER, user=USER)
    assert machine.wait_for(EXPORTER, "active", user=USER)["SubState"] == "running"
    assert wait_entries(machine, SESSION, 25, token, **PUBLIC) == 25, \
        machine.journal(EXPORTER, user=True)
    machine.run("systemctl", "--user", "stop", EXPORTER, user=USER)
