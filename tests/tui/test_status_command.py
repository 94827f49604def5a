"""``thinkt status``: the same facts as the pages, as text or JSON, and its exit statuses."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import free_port
from tests.tui.conftest import (
    SESSION_COUNT, STATUS_FILE_FACTS, STATUS_FILE_ROOTS, TOKEN, write_status_file)
from tests.harness import Collector, child_env
from thinkt.status import ConfigError, ExitStatus
from thinkt.tui.command import status, tui


def run(*args, env=None):
    return CliRunner().invoke(status, list(args), env=env, catch_exceptions=False)


def test_unreachable_collector_exits_69_and_says_so(home):
    result = run("--collector-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == ExitStatus.UNAVAILABLE, result.output
    assert "Status: DOWN" in result.output
    assert "no exporter running (no status file)" in result.output


def test_exporter_facts_come_from_the_status_file(home):
    write_status_file(home / ".thinkt")
    result = run("--collector-url", f"http://127.0.0.1:{free_port()}", "--json")
    facts = json.loads(result.output)
    exporter = facts["exporter"]
    assert exporter["running"] is True
    assert exporter["status"]["buffer"]["files"] == 3
    text = run("--collector-url", f"http://127.0.0.1:{free_port()}").output
    missing = [f for f in STATUS_FILE_FACTS + STATUS_FILE_ROOTS if f not in text]
    assert missing == [], text


def test_a_bad_url_is_a_config_error(home):
    result = CliRunner().invoke(status, ["--collector-url", "collector:4318"])
    assert result.exit_code != 0
    assert "not an http:// or https:// URL" in str(result.exception)


@pytest.mark.slow
def test_healthy_collector_exits_0_with_its_totals(collector, home):
    result = run("--collector-url", collector.url, "--api-key", TOKEN)
    assert result.exit_code == 0, result.output
    assert "Status:   up" in result.output
    assert f"Sessions: {SESSION_COUNT}" in result.output
    assert "laptop-ana  active  v1.3.2" in result.output
    assert TOKEN not in result.output


@pytest.mark.slow
def test_json_for_scripts(collector, home):
    result = run("--collector-url", collector.url + "/v1/traces", "--api-key", TOKEN, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["healthy"] is True
    assert facts["collector"]["url"] == collector.url
    assert facts["collector"]["stats"]["total_traces"] == 2 * SESSION_COUNT
    assert len(facts["collector"]["sessions"]) == SESSION_COUNT
    assert facts["exporter"]["running"] is False
    assert TOKEN not in result.output


@pytest.mark.slow
def test_connection_from_environment(collector, home):
    env = {"THINKT_COLLECTOR_URL": collector.url + "/v1/traces", "THINKT_API_KEY": TOKEN}
    result = run(env=env)
    assert result.exit_code == 0, result.output
    assert "(from env THINKT_COLLECTOR_URL)" in result.output


@pytest.mark.slow
def test_connection_from_config_file(collector, home):
    path = home / ".config" / "thinkt" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(f'[exporter]\ncollector_url = "{collector.url}"\napi_key = "{TOKEN}"\n')
    result = run()
    assert result.exit_code == 0, result.output
    assert f"(from config file {path})" in result.output


@pytest.mark.slow
def test_the_key_file_of_the_exporter_config_is_used(collector, home):
    """As the exporter's user service is set up: the key in a file named by the config."""
    key = home / ".config" / "thinkt" / "api-key"
    key.parent.mkdir(parents=True)
    key.write_text(TOKEN + "\n")
    (key.parent / "config.toml").write_text(
        f'[exporter]\ncollector_url = "{collector.url}"\napi_key_file = "{key}"\n')
    result = run()
    assert result.exit_code == 0, result.output
    assert "Status:   up" in result.output


@pytest.mark.slow
def test_refused_token_exits_78(collector, home):
    result = run("--collector-url", collector.url, "--api-key", "wrong")
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert "REFUSED: the collector refused the API key" in result.output


@pytest.mark.slow
def test_an_ingest_only_key_is_told_it_may_not_read(tmp_path, home):
    tokens = tmp_path / "tokens"
    tokens.write_text("laptop-only-key ingest\n")
    collector = Collector(tmp_path / "c.duckdb", tmp_path / "c.log", "--token-file",
                          str(tokens)).start()
    try:
        result = run("--collector-url", collector.url, "--api-key", "laptop-only-key")
    finally:
        collector.stop()
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert "may not read" in result.output and "read role" in result.output
    assert "laptop-only-key" not in result.output


def test_tui_rejects_a_bad_url_before_taking_the_screen(home):
    result = CliRunner().invoke(tui, ["collector", "--collector-url", "ftp://collector"])
    assert isinstance(result.exception, ConfigError), result.output


def test_the_commands_do_not_import_textual():
    code = ("import sys, thinkt.tui.command, thinkt.tui.report, thinkt.tui.client; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=child_env())
    assert out.stdout.strip() == "False", out.stderr


def redacted_line(text: str) -> str:
    found = [line.strip() for line in text.splitlines() if line.strip().startswith("Redacted:")]
    assert len(found) == 1, text
    return found[0][len("Redacted:"):].strip()


def test_redaction_counts_as_text_and_json(home):
    write_status_file(home / ".thinkt", redactions={"aws_access_key": 3, "github_token": 9})
    url = f"http://127.0.0.1:{free_port()}"
    text = run("--collector-url", url).output
    assert redacted_line(text) == "12 secrets: github_token 9, aws_access_key 3"
    facts = json.loads(run("--collector-url", url, "--json").output)["exporter"]
    assert facts["redaction"] == {"mode": "on", "total": 12,
                                  "by_rule": {"github_token": 9, "aws_access_key": 3}}
    assert list(facts["redaction"]["by_rule"]) == ["github_token", "aws_access_key"]


def test_no_redactions_say_none_and_no_redact_says_off(home):
    write_status_file(home / ".thinkt")
    url = f"http://127.0.0.1:{free_port()}"
    assert redacted_line(run("--collector-url", url).output) == "none"
    assert json.loads(run("--collector-url", url, "--json").output)["exporter"][
        "redaction"] == {"mode": "on", "total": 0, "by_rule": {}}
    write_status_file(home / ".thinkt", redaction="off")
    assert redacted_line(run("--collector-url", url).output) == \
        "redaction off (--no-redact): text is shipped as it is"
    assert json.loads(run("--collector-url", url, "--json").output)["exporter"][
        "redaction"]["mode"] == "off"


def test_redaction_facts_from_an_older_or_damaged_status_file(home):
    # An exporter from before the ``redaction`` key still shows its counts; nonsense
    # counts (not numbers, booleans, zero) are not secrets.
    write_status_file(home / ".thinkt", redactions={"jwt": 2, "bogus": "7", "flag": True,
                                                    "zero": 0})
    status = json.loads((home / ".thinkt" / "exporter-status.json").read_text())
    del status["redaction"]
    (home / ".thinkt" / "exporter-status.json").write_text(json.dumps(status))
    url = f"http://127.0.0.1:{free_port()}"
    assert redacted_line(run("--collector-url", url).output) == "2 secrets: jwt 2"
    assert json.loads(run("--collector-url", url, "--json").output)["exporter"][
        "redaction"] == {"mode": None, "total": 2, "by_rule": {"jwt": 2}}
    write_status_file(home / ".thinkt", counts=[])
    assert redacted_line(run("--collector-url", url).output) == "none"


def test_no_status_file_has_no_redaction_facts(home):
    result = run("--collector-url", f"http://127.0.0.1:{free_port()}", "--json")
    assert json.loads(result.output)["exporter"]["redaction"] is None
    assert "Redacted" not in run("--collector-url", f"http://127.0.0.1:{free_port()}").output
