"""``--api-key-file``: the exporter's key from a file, and how it competes with ``--api-key``."""

from __future__ import annotations

import pytest

pytest.importorskip("requests")

from thinkt.cli import cli, run  # noqa: E402
from thinkt.status import ExitStatus  # noqa: E402
from tests.exporter.conftest import stub  # noqa: E402,F401 (the exporter tests' collector)
from tests.exporter.corpus import write_session  # noqa: E402


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "api-key"
    path.write_text("# rotated 2026-01-01\n\n  key-from-file  \n")
    return path


def export(capsys, *args):
    with pytest.raises(SystemExit) as info:
        run(cli, ["export", *args], prog_name="thinkt")
    out, err = capsys.readouterr()
    return info.value.code, out, err


def keys_sent(stub) -> list[str]:
    return [r["headers"].get("Authorization") for r in stub.requests if r["path"] == "/v1/traces"]


def test_the_key_file_is_sent_as_the_bearer_token(capsys, home, stub, key_file):
    write_session(home, "s1", 2)
    code, _, err = export(capsys, "--collector-url", stub.url, "--api-key-file", str(key_file))
    assert code == 0, err
    assert keys_sent(stub) and set(keys_sent(stub)) == {"Bearer key-from-file"}


def test_a_key_file_flag_beats_a_key_in_the_environment(capsys, monkeypatch, home, stub,
                                                        key_file):
    monkeypatch.setenv("THINKT_API_KEY", "key-from-env")
    write_session(home, "s1", 1)
    code, _, err = export(capsys, "--collector-url", stub.url, "--api-key-file", str(key_file))
    assert code == 0, err
    assert set(keys_sent(stub)) == {"Bearer key-from-file"}


def test_a_key_flag_beats_a_key_file_in_the_config_file(capsys, home, stub, key_file):
    config = home / ".config" / "thinkt" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[exporter]\napi_key_file = "{key_file}"\n')
    write_session(home, "s1", 1)
    code, _, err = export(capsys, "--collector-url", stub.url, "--api-key", "key-from-flag")
    assert code == 0, err
    assert set(keys_sent(stub)) == {"Bearer key-from-flag"}


@pytest.mark.parametrize("content", [None, "# only a comment\n\n"])
def test_a_missing_or_empty_key_file_exits_78(capsys, home, tmp_path, content):
    path = tmp_path / "api-key"
    if content is not None:
        path.write_text(content)
    code, _, err = export(capsys, "--collector-url", "http://127.0.0.1:9", "--api-key-file",
                          str(path))
    assert code == ExitStatus.CONFIG
    assert str(path) in err
    assert "key-from" not in err


def test_a_key_file_under_home_may_be_written_with_a_tilde(capsys, home, stub):
    (home / ".config" / "thinkt").mkdir(parents=True)
    (home / ".config" / "thinkt" / "api-key").write_text("key-under-home\n")
    (home / ".config" / "thinkt" / "config.toml").write_text(
        f'[exporter]\ncollector_url = "{stub.url}"\napi_key_file = "~/.config/thinkt/api-key"\n')
    write_session(home, "s1", 1)
    code, _, err = export(capsys)
    assert code == 0, err
    assert set(keys_sent(stub)) == {"Bearer key-under-home"}
