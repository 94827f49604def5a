"""The systemd units, the cron line and the Dockerfile: valid, and saying what the code does."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_UNITS = [REPO / "systemd" / "thinkt-collector.service"]
USER_UNITS = [REPO / "systemd" / "user" / name for name in
              ("thinkt-exporter.service", "thinkt-export.service", "thinkt-export.timer")]
NGINX_DROP_IN = REPO / "systemd" / "nginx.service.d" / "thinkt-collector.conf"
DEBIAN_NGINX_UNIT = Path("/lib/systemd/system/nginx.service")
#: The only complaint allowed: the program is not installed on the machine running tests.
NOT_INSTALLED = re.compile(r"^\S+: Command \S+/(thinkt|thinkt-collector|thinkt-exporter) "
                           r"is not executable: No such file or directory$")

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is not installed")


def read_unit(path: Path) -> configparser.ConfigParser:
    """Parse a unit file, keeping repeated keys (SystemCallFilter=) as a list."""
    parser = configparser.ConfigParser(strict=False, interpolation=None,
                                       dict_type=_MultiDict, empty_lines_in_values=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path)
    return parser


class _MultiDict(dict):
    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def value(unit: configparser.ConfigParser, section: str, key: str) -> str:
    return unit.get(section, key).strip().split("\n")[-1]


def verify(paths: list[Path], tmp_path: Path, user: bool) -> list[str]:
    """Run ``systemd-analyze verify``; return every complaint but a missing program."""
    args = ["systemd-analyze", "verify", *(["--user"] if user else []), *map(str, paths)]
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=paths[0].parent,
                          env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime),
                               "HOME": str(tmp_path / "home"), "SYSTEMD_LOG_COLOR": "0"})
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.strip() and not NOT_INSTALLED.match(line)]


@needs_analyze
def test_the_system_unit_passes_systemd_analyze_verify(tmp_path):
    assert verify(SYSTEM_UNITS, tmp_path, user=False) == []


@needs_analyze
def test_the_user_units_pass_systemd_analyze_verify(tmp_path):
    assert verify(USER_UNITS, tmp_path, user=True) == []


@needs_analyze
def test_verify_does_catch_a_broken_unit(tmp_path):
    broken = tmp_path / "broken.service"
    text = SYSTEM_UNITS[0].read_text().replace("Type=notify", "Typ=notify")
    broken.write_text(text.replace("RestartSec=3", "RestartSec=soon"))
    complaints = "\n".join(verify([broken], tmp_path, user=False))
    assert "Unknown key 'Typ'" in complaints and "ignoring: soon" in complaints


@needs_analyze
def test_the_nginx_drop_in_passes_systemd_analyze_verify(tmp_path):
    # Beside Debian's nginx.service where nginx is installed, else a stand-in for it.
    unit = tmp_path / "units" / "nginx.service"
    (unit.parent / "nginx.service.d").mkdir(parents=True)
    if DEBIAN_NGINX_UNIT.is_file():
        shutil.copy(DEBIAN_NGINX_UNIT, unit)
    else:
        unit.write_text("[Service]\nExecStart=/bin/true\n")
    shutil.copy(NGINX_DROP_IN, unit.parent / "nginx.service.d")
    assert verify([unit], tmp_path, user=False) == []
    # verify does read the drop-in directory: a typo there is reported.
    (unit.parent / "nginx.service.d" / "typo.conf").write_text("[Unit]\nAftr=x.service\n")
    assert "Unknown key 'Aftr'" in "\n".join(verify([unit], tmp_path, user=False))


def test_the_nginx_drop_in_starts_nginx_after_the_collector_without_binding_them():
    drop_in = read_unit(NGINX_DROP_IN)
    assert drop_in.sections() == ["Unit"]
    assert value(drop_in, "Unit", "After") == "thinkt-collector.service"
    assert value(drop_in, "Unit", "Wants") == "thinkt-collector.service"
    # Stopping the collector (a backup) must not stop nginx and the other sites it serves.
    for key in ("Requires", "BindsTo", "PartOf", "Requisite"):
        assert not drop_in.has_option("Unit", key)


def test_collector_unit_says_what_the_collector_does():
    from thinkt.collector import server

    unit = read_unit(SYSTEM_UNITS[0])
    service = dict((k, value(unit, "Service", k)) for k in unit["Service"])
    assert service["Type"] == "notify"
    assert service["RestartPreventExitStatus"] == "78"
    assert service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "thinkt"
    assert service["ExecReload"] == "/bin/kill -s HUP $MAINPID"
    assert service.get("DynamicUser") == "yes" or service.get("User")
    # the token comes from a credential, never from the command line
    name = service["LoadCredential"].split(":")[0]
    assert f"--token-file %d/{name}" in service["ExecStart"]
    assert "--token " not in service["ExecStart"] and "THINKT_TOKEN=" not in SYSTEM_UNITS[
        0].read_text()
    # systemd must wait longer than gunicorn's graceful stop plus the writer's drain
    stop = int(service["TimeoutStopSec"])
    assert stop > 30 + server.WRITER_STOP_TIMEOUT


def test_user_units_run_in_the_background_with_a_read_only_home():
    exporter = read_unit(USER_UNITS[0])
    assert value(exporter, "Service", "Type") == "notify"
    assert value(exporter, "Service", "ProtectHome") == "read-only"
    # The state a shell's `thinkt status` / `thinkt export` use too (paths.state_dir()).
    for unit in (exporter, read_unit(USER_UNITS[1])):
        assert value(unit, "Service", "ReadWritePaths") == "%h/.thinkt"
        assert value(unit, "Service", "ExecStartPre") == "+/bin/mkdir -p -m 0700 %h/.thinkt"
        assert not unit.has_option("Service", "StateDirectory")
    assert int(value(exporter, "Service", "Nice")) > 0
    assert value(exporter, "Service", "RestartPreventExitStatus") == "78"
    oneshot = read_unit(USER_UNITS[1])
    assert value(oneshot, "Service", "Type") == "oneshot"
    assert value(oneshot, "Service", "ExecStart").endswith("thinkt export --quiet")
    timer = read_unit(USER_UNITS[2])
    assert value(timer, "Timer", "OnCalendar") == "*:0/15"
    assert value(timer, "Timer", "Persistent") == "true"


def test_the_exporter_sends_ready_and_stopping():
    # Type=notify is only right while the daemon says READY=1 (and STOPPING=1).
    text = (REPO / "thinkt" / "exporter" / "daemon.py").read_text()
    assert 'sd_notify("READY=1")' in text and 'sd_notify("STOPPING=1")' in text


def test_the_cron_line_locks_with_flock_and_runs_a_quiet_export():
    lines = [line for line in (REPO / "etc" / "crontab.example").read_text().splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    [entry] = lines
    fields = entry.split(None, 5)
    assert fields[:5] == ["*/15", "*", "*", "*", "*"]
    command = shlex.split(fields[5])
    assert command[:2] == ["mkdir", "-p"] and "&&" in command
    flock = command[command.index("&&") + 1:]
    assert flock[:2] == ["flock", "-n"]
    assert flock[3:] == ["$HOME/.local/bin/thinkt", "export", "--quiet"]
    # a separate lock file from the exporter's own exporter.lock
    assert Path(flock[2]).name != "exporter.lock"
    assert "%" not in entry  # cron would turn it into a newline


def test_the_dockerfile_runs_the_collector_with_a_volume_and_the_readme_install():
    text = (REPO / "etc" / "docker" / "Dockerfile").read_text()
    assert 'CMD ["thinkt", "collect", "--host", "0.0.0.0"]' in text
    assert re.search(r"^VOLUME /var/lib/thinkt$", text, flags=re.M)
    assert "ENV STATE_DIRECTORY=/var/lib/thinkt" in text
    install = re.search(r"pip install --no-cache-dir ('[^']+')", text).group(1)
    assert f"pip install {install}" in (REPO / "README.rst").read_text()
