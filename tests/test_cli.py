"""Every documented command answers --help; errors become one line and an exit status."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from thinkt import __version__
from thinkt.cli import COMMANDS, cli, load_command
from thinkt.status import ExitStatus
from tests.harness import child_env


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_answers_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_collect_help_lists_every_collector_setting():
    out = CliRunner().invoke(cli, ["collect", "--help"]).output
    for flag in ("--port", "-p", "--host", "--storage", "--token", "--token-file", "--quiet",
                 "--log", "--workers", "--config", "THINKT_PORT"):
        assert flag in out


def test_unknown_option_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "thinkt", "collect", "--bogus"],
                            capture_output=True, text=True, env=child_env(), timeout=60)
    assert result.returncode == ExitStatus.USAGE
    assert "No such option" in result.stderr


def test_bad_config_file_exits_78_with_one_error_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[collector]\nport = \"x\"\n")
    result = subprocess.run([sys.executable, "-m", "thinkt", "collect", "--config", str(bad),
                             "--check-config"], capture_output=True, text=True,
                            env=child_env(), timeout=60)
    assert result.returncode == ExitStatus.CONFIG, result.stderr
    assert result.stderr.startswith("Error: ") and "collector.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_token_file_is_a_config_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "thinkt", "collect", "--token-file",
                             str(tmp_path / "missing"), "--check-config"],
                            capture_output=True, text=True, env=child_env(), timeout=60)
    assert result.returncode == ExitStatus.CONFIG
    assert "token file" in result.stderr


@pytest.mark.parametrize("spec", ["thinkt.exporter.command:exporter"] + sorted(COMMANDS.values()))
def test_command_modules_load(spec):
    assert load_command(spec).name


def check_config(*args):
    return subprocess.run([sys.executable, "-m", "thinkt", "collect", *args, "--check-config"],
                          capture_output=True, text=True, env=child_env(), timeout=60)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "collector.example"])
def test_collector_refuses_an_open_address_without_a_token(host):
    refused = check_config("--host", host)
    assert refused.returncode == ExitStatus.CONFIG, refused.stderr
    assert "without a token" in refused.stderr and "--allow-unauthenticated" in refused.stderr
    assert check_config("--host", host, "--token", "t").returncode == 0
    assert check_config("--host", host, "--allow-unauthenticated").returncode == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_collector_on_loopback_may_run_without_a_token(host):
    assert check_config("--host", host).returncode == 0


def test_importing_the_main_module_does_not_run_the_cli():
    # A wrapper script (or multiprocessing preparing a child) may import thinkt.__main__.
    result = subprocess.run([sys.executable, "-c", "import thinkt.__main__; print('imported')"],
                            capture_output=True, text=True, timeout=60, env=child_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported\n"
