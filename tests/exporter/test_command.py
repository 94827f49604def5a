"""``thinkt export`` and ``thinkt-exporter`` on the command line: modes, discovery, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thinkt.cli import cli, run
from thinkt.exporter.command import exporter
from thinkt.status import ExitStatus
from tests.conftest import free_port
from tests.exporter.corpus import claude_line, write_session
from tests.harness import child_env

DEAD = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def invoke(capsys, *args, command=cli, prefix=("export",)):
    """Run the command in-process as the real entry point does; return (code, out, err)."""
    with pytest.raises(SystemExit) as info:
        run(command, [*prefix, *args], prog_name="thinkt")
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_help_documents_the_flags(capsys):
    code, out, _ = invoke(capsys, "--help")
    assert code == 0
    for flag in ("--collector-url", "--api-key", "--source", "--forward", "--flush", "--quiet",
                 "--log", "--dry-run", "--json", "--buffer-dir", "--buffer-max", "--watch-dir",
                 "THINKT_COLLECTOR_URL", "THINKT_API_KEY"):
        assert flag in out
    code, out, _ = invoke(capsys, "--help", command=exporter, prefix=())
    assert code == 0 and "--watch-dir" in out and "--version" in out
    code, out, _ = invoke(capsys, "--version", command=exporter, prefix=())
    assert code == 0 and "thinkt-exporter" in out


@pytest.mark.parametrize("args, message", [
    (("--forward", "--flush"), "--forward and --flush cannot be used together"),
    (("--flush", "--dry-run"), "--flush and --dry-run cannot be used together"),
    (("--json",), "--json goes with --dry-run"),
    (("--source", "vim"), "unknown source 'vim'"),
    (("--buffer-max", "lots"), "is not a size"),
])
def test_usage_errors_exit_2(capsys, args, message):
    code, _, err = invoke(capsys, *args)
    assert code == ExitStatus.USAGE and message in err


def test_a_bad_collector_url_exits_78_with_a_hint(capsys):
    code, _, err = invoke(capsys, "--collector-url", "ftp://example")
    assert code == ExitStatus.CONFIG
    lines = err.splitlines()
    assert lines[0] == "Error: collector URL 'ftp://example' is not an http:// or https:// URL."
    assert lines[1].startswith("Pass something like --collector-url")


def test_flag_wins_and_is_named(capsys, home, stub):
    uuids = write_session(home, "s1", 3)
    code, out, err = invoke(capsys, "--collector-url", stub.url)
    assert code == 0, err
    assert out.splitlines()[0] == f"Collector {stub.url}/v1/traces (from flag --collector-url)."
    assert "claude: 1 file, 3 new entries (3 shipped)" in out
    assert out.splitlines()[-1] == "Shipped: every new entry reached the collector."
    assert stub.uuids("s1") == set(uuids)


def test_environment_comes_next_with_the_api_key(capsys, monkeypatch, home, stub):
    monkeypatch.setenv("THINKT_COLLECTOR_URL", stub.url)
    monkeypatch.setenv("THINKT_API_KEY", "from-env")
    write_session(home, "s1", 1)
    code, out, _ = invoke(capsys)
    assert code == 0
    assert out.splitlines()[0] == f"Collector {stub.url}/v1/traces (from env THINKT_COLLECTOR_URL)."
    traces = [r for r in stub.requests if r["path"] == "/v1/traces"]
    assert traces and traces[0]["headers"]["Authorization"] == "Bearer from-env"


def test_the_user_goes_with_the_registration_and_every_payload(capsys, monkeypatch, home,
                                                               stub):
    write_session(home, "s1", 3)
    code, _, err = invoke(capsys, "--collector-url", stub.url, "--user", " alice@example.com ")
    assert code == 0, err
    assert [r["user"] for r in stub.registrations] == ["alice@example.com"]
    assert stub.payloads and {p["user"] for p in stub.payloads} == {"alice@example.com"}
    # THINKT_USER when no flag says otherwise
    monkeypatch.setenv("THINKT_USER", "bob@example.com")
    write_session(home, "s2", 1)
    assert invoke(capsys, "--collector-url", stub.url)[0] == 0
    assert stub.registrations[-1]["user"] == stub.payloads[-1]["user"] == "bob@example.com"


def test_a_user_the_collector_would_refuse_exits_78(capsys, stub):
    code, _, err = invoke(capsys, "--collector-url", stub.url, "--user", "x" * 513)
    assert code == ExitStatus.CONFIG and "512" in err
    assert stub.requests == []


def test_the_config_file_is_read(capsys, home, stub):
    config = home / ".config" / "thinkt" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[exporter]\ncollector_url = "{stub.url}"\n')
    write_session(home, "s1", 1)
    code, out, _ = invoke(capsys)
    assert code == 0
    assert out.splitlines()[0] == f"Collector {stub.url}/v1/traces (from config file {config})."


def test_the_project_file_is_found_from_the_working_directory(tmp_path, home, stub):
    project = tmp_path / "project"
    (project / ".thinkt").mkdir(parents=True)
    (project / ".thinkt" / "collector.json").write_text(
        json.dumps({"collector_url": stub.url, "api_key": "project-key"}))
    (project / "src").mkdir()
    uuids = write_session(home, "s1", 2)
    result = subprocess.run([sys.executable, "-m", "thinkt", "export", "--discovery-url", DEAD],
                            capture_output=True, text=True, cwd=project / "src",
                            env=child_env(home), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"Collector {stub.url}/v1/traces (from project file "
        f"{project / '.thinkt' / 'collector.json'}).")
    assert stub.uuids("s1") == set(uuids)
    traces = [r for r in stub.requests if r["path"] == "/v1/traces"]
    assert traces[0]["headers"]["Authorization"] == "Bearer project-key"


def test_the_well_known_document_is_next(capsys, home, stub):
    stub.well_known = {"collector_url": stub.url}
    uuids = write_session(home, "s1", 2)
    code, out, _ = invoke(capsys, "--discovery-url", DEAD, "--discovery-url", stub.url)
    assert code == 0
    assert out.splitlines()[0] == (f"Collector {stub.url}/v1/traces (from well-known "
                                   f"{stub.url}/.well-known/thinkt.json).")
    assert stub.uuids("s1") == set(uuids)


def test_with_nothing_found_it_buffers_and_says_so(capsys, home):
    write_session(home, "s1", 2)
    code, out, _ = invoke(capsys, "--discovery-url", DEAD)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("No collector found") and "buffering to disk only" in lines[0]
    assert lines[-1].startswith("Buffered: 2 new entries are safe in")
    assert len(list((home / ".thinkt" / "export-buffer").glob("*.json.gz"))) == 1


def test_quiet_prints_nothing(capsys, home, stub):
    write_session(home, "s1", 2)
    code, out, err = invoke(capsys, "-q", "--collector-url", stub.url)
    assert (code, out, err) == (0, "", "")


def test_watch_dirs_named_or_matched_by_layout(capsys, home, tmp_path, stub):
    named = tmp_path / "elsewhere"
    (named / "-proj").mkdir(parents=True)
    (named / "-proj" / "n1.jsonl").write_bytes(claude_line("n1-0", "n1"))
    uuids = write_session(home, "m1", 2)  # under ~/.claude/projects: matched by layout
    code, _, err = invoke(capsys, "--collector-url", stub.url,
                          "--watch-dir", f"claude={named}",
                          "--watch-dir", str(home / ".claude" / "projects"))
    assert code == 0, err
    assert stub.uuids("m1") == set(uuids) and stub.uuids("n1") == {"n1-0"}
    code, _, err = invoke(capsys, "--collector-url", stub.url, "--watch-dir", f"vim={named}")
    assert code == ExitStatus.CONFIG and "unknown source 'vim'" in err
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code, _, err = invoke(capsys, "--collector-url", stub.url, "--watch-dir", str(empty))
    assert code == ExitStatus.CONFIG and "cannot tell which assistant" in err


def test_dry_run_reports_without_touching_state(capsys, home):
    write_session(home, "s1", 4)
    code, out, _ = invoke(capsys, "--dry-run", "--json", "--source", "claude")
    assert code == 0
    report = json.loads(out)
    claude = next(s for s in report["sources"] if s["source"] == "claude")
    assert claude["files"] == 1 and claude["entries"] == 4
    assert not (home / ".thinkt" / "offsets.json").exists()
    code, out, _ = invoke(capsys, "--dry-run")
    assert code == 0 and "claude" in out


def test_dry_run_tells_new_entries_from_those_already_shipped(capsys, home, stub):
    write_session(home, "s1", 4)
    code, _, err = invoke(capsys, "--collector-url", stub.url, "--source", "claude")
    assert code == 0, err
    offsets = home / ".thinkt" / "offsets.json"
    before = offsets.read_bytes()

    def dry_run() -> dict:
        code, out, _ = invoke(capsys, "--dry-run", "--json", "--source", "claude")
        assert code == 0
        return next(s for s in json.loads(out)["sources"] if s["source"] == "claude")

    claude = dry_run()
    assert (claude["entries"], claude["new_entries"], claude["shipped_entries"]) == (4, 0, 4)
    write_session(home, "s1", 2, start=4)
    claude = dry_run()
    assert (claude["entries"], claude["new_entries"], claude["shipped_entries"]) == (6, 2, 4)
    assert offsets.read_bytes() == before, "a dry run moved offsets"
    code, out, _ = invoke(capsys, "--dry-run", "--source", "claude")
    assert "new: not shipped yet, 2 entries for the next export (4 shipped already)." in out


def test_flush_with_an_empty_buffer(capsys, stub):
    code, out, _ = invoke(capsys, "--flush", "--collector-url", stub.url)
    assert code == 0
    assert out.splitlines()[-1].startswith("Flushed 0 of 0 buffered payloads")
