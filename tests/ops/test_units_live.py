"""The systemd units, started for real under systemd 252 and 257 in booted Debian containers.

`systemd-analyze verify` only says a unit parses. These tests start each unit under the
systemd that enforces its sandbox, as the README tells an operator to install it, and
check what the sandbox really is (user, seccomp, read-only root, private /tmp) and that
the service still does its job inside it: ingest, search, /metrics, reload, a crash
restarted, a bad config not restarted, a clean stop; the exporter as a user service,
the one-shot export and its timer.
"""

from __future__ import annotations

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
from tests.tls import make_pair, needs_openssl
from thinkt.collector.settings import default_workers

_missing = missing_requirements()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing is not None, reason=_missing or "")]

TOKEN = "live-unit-token-5b0f3c1e9a7d"
COLLECTOR = "thinkt-collector.service"
EXPORTER = "thinkt-exporter.service"
USER, UID = "dev", 1000
SESSION = "live-unit-session"
#: The collector's name on the network, which its certificate names.
PUBLIC_NAME = "collector.example.com"
#: The collector's default --workers (the container sees the host's cores).
WORKERS = default_workers()
#: DynamicUser= picks its uids from this range (systemd's docs).
DYNAMIC_UIDS = range(61184, 65520)


def prepare(root: Path) -> None:
    """Install the units and their settings the way README.rst's Deployment section says."""
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n")
    for name in ("thinkt", "thinkt-collector", "thinkt-exporter"):
        (root / "usr" / "local" / "bin" / name).symlink_to(f"/opt/thinkt/bin/{name}")
    # The server: unit, enabled, and the token file it loads as a credential.
    shutil.copy(REPO / "systemd" / "thinkt-collector.service", root / "etc/systemd/system")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / COLLECTOR).symlink_to(f"/etc/systemd/system/{COLLECTOR}")
    (root / "etc" / "thinkt").mkdir()
    tokens = root / "etc" / "thinkt" / "tokens"
    tokens.write_text(TOKEN + "\n")
    tokens.chmod(0o600)
    # The laptop: a user with its own manager (lingering), units under ~/.config.
    subprocess.run(["chroot", str(root), "useradd", "-m", "-u", str(UID), USER], check=True,
                   timeout=60)
    linger = root / "var/lib/systemd/linger"
    linger.mkdir(parents=True, exist_ok=True)
    (linger / USER).touch()
    home = root / "home" / USER
    units = home / ".config/systemd/user"
    units.mkdir(parents=True)
    for unit in (REPO / "systemd" / "user").iterdir():
        shutil.copy(unit, units)
    (home / ".local/bin").mkdir(parents=True)
    for name in ("thinkt", "thinkt-exporter"):
        (home / ".local/bin" / name).symlink_to(f"/opt/thinkt/bin/{name}")
    settings = home / ".config/thinkt"
    settings.mkdir()
    (settings / "api-key").write_text(TOKEN + "\n")
    (settings / "api-key").chmod(0o600)
    (settings / "config.toml").write_text(
        '[exporter]\ncollector_url = "http://localhost:4318"\n'
        f'api_key_file = "/home/{USER}/.config/thinkt/api-key"\n')
    write_session(home, SESSION, 10)
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(home)], check=True, timeout=60)


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
        yield booted
    finally:
        booted.shutdown()
        shutil.rmtree(root, ignore_errors=True)  # ~400 MB: do not keep it around


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


def stats(machine: Machine) -> dict:
    status, body = machine.http("GET", "/v1/traces/stats", token=TOKEN)
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


def session_entries(machine: Machine, session: str, **where: str) -> int:
    """Entries stored for ``session`` (``where``: another base URL, its CA bundle)."""
    status, body = machine.http("GET", f"/v1/sessions/{session}/entries?limit=1000",
                                token=TOKEN, **where)
    return len(body) if status == 200 else 0  # 404 before the first entry


def wait_entries(machine: Machine, session: str, count: int, timeout: float = 30.0,
                 **where: str) -> int:
    return poll(lambda: session_entries(machine, session, **where),
                lambda seen: seen >= count, timeout)


# -- the collector (system unit) -------------------------------------------------------
def test_collector_starts_inside_its_sandbox(machine):
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
    writer = process_status(machine, stats(machine)["writer_pid"])
    assert writer["Seccomp"] == "2" and writer["Uid"] == status["Uid"]


def test_collector_exposure_rating_stays_low(machine):
    out = machine.run("systemd-analyze", "security", COLLECTOR, "--no-pager").stdout
    rating = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    assert rating <= 2.0, out


def test_collector_ingests_and_answers_behind_its_token(machine):
    assert machine.http("GET", "/v1/collector/health") == (200, {"status": "ok"})
    assert machine.http("GET", "/v1/traces/stats")[0] == 401
    status, body = machine.http("POST", "/v1/traces", batch("unit-ingest", "ingest", 6),
                                token=TOKEN)
    assert (status, body) == (200, {"accepted": 6, "duplicates": 0})
    assert session_entries(machine, "unit-ingest") == 6
    status, found = machine.http("GET", "/v1/traces/search?q=unit%20check%20ingest",
                                 token=TOKEN)
    assert status == 200 and found
    metrics = machine.run("curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}",
                          "http://localhost:4318/metrics").stdout
    assert re.search(r'^thinkt_entries_total\{result="accepted"\} [1-9]', metrics, re.M)
    # The token came as a credential: on no command line, in no environment, in no log.
    every_cmdline = machine.run("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert "/run/credentials/thinkt-collector.service/token" in every_cmdline
    assert TOKEN not in every_cmdline
    main_pid = machine.show(COLLECTOR, "MainPID")["MainPID"]
    assert TOKEN not in machine.run("cat", f"/proc/{main_pid}/environ").stdout
    assert TOKEN not in machine.journal(COLLECTOR)


def test_reload_replaces_the_workers_and_keeps_the_writer(machine):
    main_pid = machine.show(COLLECTOR, "MainPID")["MainPID"]
    before, writer = workers(machine, main_pid), stats(machine)["writer_pid"]
    assert len(before) == WORKERS
    machine.run("systemctl", "reload", COLLECTOR)
    after = poll(lambda: workers(machine, main_pid), lambda found: not found & before, 60)
    assert len(after) == WORKERS and not after & before
    assert machine.show(COLLECTOR, "MainPID")["MainPID"] == main_pid
    assert stats(machine)["writer_pid"] == writer
    assert machine.http("POST", "/v1/traces", batch("unit-reload", "reload", 4),
                        token=TOKEN)[0] == 200


def test_a_crash_is_restarted_and_nothing_acknowledged_is_lost(machine):
    stored = stats(machine)["total_traces"]
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
    assert stats(machine)["total_traces"] == stored


def test_a_bad_config_fails_with_78_and_is_not_restarted(machine):
    config = machine.root / "etc" / "thinkt" / "config.toml"
    config.write_text('[collector]\nworkers = "many"\n')
    try:
        assert machine.run("systemctl", "restart", COLLECTOR, check=False).returncode != 0
        shown = machine.wait_for(COLLECTOR, "failed")
        assert (shown["Result"], shown["ExecMainStatus"]) == ("exit-code", "78")
        time.sleep(5)  # past RestartSec=3: Restart=on-failure would have acted by now
        assert machine.show(COLLECTOR, "ActiveState")["ActiveState"] == "failed"
        assert "collector.workers" in machine.journal(COLLECTOR)
    finally:
        config.unlink()
        machine.run("systemctl", "reset-failed", COLLECTOR, check=False)
        started = machine.run("systemctl", "start", COLLECTOR, check=False)
        assert started.returncode == 0, started.stderr + machine.journal(COLLECTOR)[-3000:]
    assert machine.wait_for(COLLECTOR, "active")["ActiveState"] == "active"


# -- the exporter (user units) ---------------------------------------------------------
def test_the_user_exporter_ships_live_lines_from_inside_its_sandbox(machine):
    machine.wait_for("user@1000.service", "active")
    machine.run("systemctl", "--user", "start", EXPORTER, user=USER)
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
    assert wait_entries(machine, SESSION, 10) == 10
    home = machine.root / "home" / USER
    write_session(home, SESSION, 6, start=10)  # appended while it watches
    assert wait_entries(machine, SESSION, 16) == 16
    # From the user's shell, the status command finds this exporter (its state is in
    # ~/.thinkt, where the shell looks) and the collector (with the exporter's key file),
    # and a second exporter finds the lock taken.
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


def test_the_one_shot_export_and_its_timer(machine):
    home = machine.root / "home" / USER
    write_session(home, SESSION, 4, start=16)
    # A oneshot unit: start returns when the pass is over.
    machine.run("systemctl", "--user", "start", "thinkt-export.service", user=USER,
                timeout=120)
    shown = machine.show("thinkt-export.service", "Result", "ExecMainStatus", user=USER)
    assert shown == {"Result": "success", "ExecMainStatus": "0"}
    assert session_entries(machine, SESSION) == 20
    machine.run("systemctl", "--user", "enable", "--now", "thinkt-export.timer", user=USER)
    timers = machine.run("systemctl", "--user", "list-timers", "--all", "--no-pager",
                         user=USER).stdout
    assert "thinkt-export.timer" in timers and "thinkt-export.service" in timers


def test_stop_drains_and_exits_0(machine):
    assert machine.http("POST", "/v1/traces", batch("unit-stop", "stop", 5),
                        token=TOKEN)[0] == 200
    stored = stats(machine)["total_traces"]
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    shown = machine.show(COLLECTOR, "ActiveState", "Result", "ExecMainStatus")
    assert shown == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}
    journal = machine.journal(COLLECTOR)
    assert "writer stopped" in journal
    # Every process of the unit ended on its own: systemd had nothing left to kill.
    assert "SIGKILL" not in journal.split("Stopping thinkt-collector")[-1], journal
    machine.run("systemctl", "start", COLLECTOR)
    assert stats(machine)["total_traces"] == stored


def test_backup_and_restore_as_the_readme_says(machine):
    """Stop, copy, start: the exporters buffer meanwhile. A restored copy is served
    again, whatever uid the dynamic user gets this time."""
    database = "/var/lib/private/thinkt/collector.duckdb"
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    machine.run("cp", database, "/root/collector-backup.duckdb")
    machine.run("systemctl", "start", COLLECTOR)
    backed_up = stats(machine)["total_traces"]
    assert machine.http("POST", "/v1/traces", batch("after-backup", "later", 3),
                        token=TOKEN)[0] == 200
    assert stats(machine)["total_traces"] == backed_up + 3
    machine.run("systemctl", "stop", COLLECTOR, timeout=150)
    machine.run("cp", "/root/collector-backup.duckdb", database)
    machine.run("systemctl", "start", COLLECTOR)
    assert stats(machine)["total_traces"] == backed_up
    assert session_entries(machine, "after-backup") == 0


# -- across machines: TLS, as the README's server and laptop steps set it up ------------
@needs_openssl
def test_https_with_the_readme_drop_in_and_the_exporter_shipping_over_it(machine):
    etc = machine.root / "etc"
    make_pair(etc / "thinkt" / "tls", PUBLIC_NAME, (f"DNS:{PUBLIC_NAME}",))
    (etc / "thinkt" / "tls").chmod(0o700)
    (etc / "thinkt" / "config.toml").write_text('[collector]\nhost = "0.0.0.0"\n')
    dropin = etc / "systemd" / "system" / f"{COLLECTOR}.d"
    dropin.mkdir()
    (dropin / "tls.conf").write_text(
        "[Service]\nLoadCredential=tls-cert:/etc/thinkt/tls/cert.pem\n"
        "LoadCredential=tls-key:/etc/thinkt/tls/key.pem\n"
        "Environment=THINKT_TLS_CERT=%d/tls-cert THINKT_TLS_KEY=%d/tls-key\n")
    with open(etc / "hosts", "a") as hosts:  # the laptop's DNS, on this one machine
        hosts.write(f"127.0.0.1\t{PUBLIC_NAME}\n")
    machine.run("systemctl", "daemon-reload")
    machine.run("systemctl", "restart", COLLECTOR)
    assert machine.wait_for(COLLECTOR, "active")["ActiveState"] == "active"
    health = machine.run("curl", "-sS", "--cacert", "/etc/thinkt/tls/cert.pem",
                         f"https://{PUBLIC_NAME}:4318/v1/collector/health").stdout
    assert json.loads(health) == {"status": "ok"}
    assert machine.run("curl", "-sS", "http://localhost:4318/v1/collector/health",
                       check=False).returncode != 0  # TLS only
    # The key never left root's directory: the service read systemd's copy.
    assert (etc / "thinkt" / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    # The laptop: https:// and the certificate as its CA, as the README's printf writes.
    home = machine.root / "home" / USER
    settings = home / ".config" / "thinkt"
    shutil.copy(etc / "thinkt" / "tls" / "cert.pem", settings / "collector-ca.pem")
    (settings / "config.toml").write_text(
        f'[exporter]\ncollector_url = "https://{PUBLIC_NAME}:4318"\n'
        'api_key_file = "~/.config/thinkt/api-key"\n'
        'ca_cert = "~/.config/thinkt/collector-ca.pem"\n')
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(settings)], check=True, timeout=60)
    write_session(home, SESSION, 5, start=20)
    machine.run("systemctl", "--user", "start", EXPORTER, user=USER)
    assert machine.wait_for(EXPORTER, "active", user=USER)["SubState"] == "running"
    over_https = {"base": f"https://{PUBLIC_NAME}:4318", "cacert": "/etc/thinkt/tls/cert.pem"}
    assert wait_entries(machine, SESSION, 25, **over_https) == 25, \
        machine.journal(EXPORTER, user=True)
    machine.run("systemctl", "--user", "stop", EXPORTER, user=USER)
