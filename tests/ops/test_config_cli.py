"""``thinkt config show`` / ``sample``, the etc/ examples, and ``--check-config``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from thinkt import config as table
from thinkt.cli import cli, run
from thinkt.config_cli import EXAMPLES, config, render_sample
from thinkt.status import ExitStatus

ETC = Path(__file__).resolve().parents[2] / "etc"


def invoke(capsys, command, *args):
    """Run ``command`` as the real entry point does; return (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        run(command, list(args), prog_name="thinkt")
    out, err = capsys.readouterr()
    return info.value.code, out, err


def shown(capsys, *args) -> dict[str, dict]:
    code, out, err = invoke(capsys, config, "show", "--json", *args)
    assert code == 0, err
    return {f"{s['section']}.{s['name']}": s for s in json.loads(out)["settings"]}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[collector]\nport = 5000\ntoken = ["file-secret-1", "file-secret-2"]\n'
                    'commit_timeout = "2m"\n\n[exporter]\napi_key = "file-api-key"\n'
                    'concurrency = 4\n')
    return path


def test_show_names_the_file_beats_default_edge(capsys, config_file):
    settings = shown(capsys, "--config", str(config_file))
    assert settings["collector.port"]["value"] == 5000
    assert settings["collector.port"]["source"] == f"file {config_file}"
    assert settings["collector.commit_timeout"]["value"] == "2m"
    assert settings["collector.host"] == {"section": "collector", "name": "host",
                                          "value": "localhost", "source": "default"}
    assert settings["exporter.concurrency"]["value"] == 4


def test_show_names_the_env_beats_file_edge(capsys, monkeypatch, config_file):
    monkeypatch.setenv("THINKT_CONFIG", str(config_file))
    monkeypatch.setenv("THINKT_PORT", "6000")
    settings = shown(capsys)
    assert (settings["collector.port"]["value"], settings["collector.port"]["source"]) == (
        6000, "env THINKT_PORT")
    assert settings["exporter.concurrency"]["source"] == f"file {config_file}"


def test_show_masks_every_secret_in_table_and_json(capsys, monkeypatch, config_file):
    monkeypatch.setenv("THINKT_API_KEY", "env-api-key")
    code, table_out, err = invoke(capsys, config, "show", "--config", str(config_file))
    assert code == 0, err
    code, json_out, err = invoke(capsys, config, "show", "--json", "--config", str(config_file))
    for out in (table_out, json_out):
        for secret in ("file-secret-1", "file-secret-2", "file-api-key", "env-api-key"):
            assert secret not in out
    settings = {f"{s['section']}.{s['name']}": s for s in json.loads(json_out)["settings"]}
    assert settings["collector.token"]["value"] == ["****", "****"]
    assert settings["exporter.api_key"] == {"section": "exporter", "name": "api_key",
                                            "value": "****", "source": "env THINKT_API_KEY"}
    line = next(x for x in table_out.splitlines() if x.startswith("collector.token "))
    assert line.split()[1:] == ["****,", "****", "file", str(config_file)]


def test_show_lists_every_setting_of_the_table_once(capsys):
    settings = shown(capsys)
    assert sorted(settings) == sorted(f"{s.section}.{s.name}" for s in table.SETTINGS)
    assert {s["source"] for s in settings.values()} == {"default"}


def test_show_of_one_section(capsys):
    assert {s.split(".")[0] for s in shown(capsys, "--section", "exporter")} == {"exporter"}


def test_show_on_a_bad_file_exits_78_naming_the_key(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[exporter]\nconcurrency = 99\n")
    code, out, err = invoke(capsys, config, "show", "--config", str(bad))
    assert code == ExitStatus.CONFIG
    assert "exporter.concurrency" in err and out == ""


@pytest.mark.parametrize("text, named", [
    ("[collector]\nqueue_sise = 10\n", "collector.queue_sise"),
    ("[collector]\ncommit_timeout = \"soon\"\n", "collector.commit_timeout"),
    ("[collector]\nworkers = 0\n", "collector.workers"),
])
def test_check_config_on_a_bad_file_exits_78_with_the_key_named(capsys, tmp_path, text, named):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    code, out, err = invoke(capsys, cli, "collect", "--check-config", "--config", str(bad))
    assert code == ExitStatus.CONFIG
    assert named in err
    assert err.startswith("Error: ") and "configuration OK" not in out


def test_check_config_on_a_good_file_exits_0(capsys, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(f'[collector]\nstorage = "{tmp_path / "db.duckdb"}"\nport = 4400\n')
    code, out, err = invoke(capsys, cli, "collect", "--check-config", "--config", str(good))
    assert (code, out) == (0, "configuration OK\n"), err


@pytest.mark.parametrize("section", ["collector", "exporter"])
def test_etc_examples_are_the_generated_samples(capsys, section):
    code, out, _ = invoke(capsys, config, "sample", "--section", section)
    assert code == 0
    assert out == render_sample(section)
    assert (ETC / f"{section}.toml.example").read_text() == out, (
        f"regenerate: thinkt config sample --section {section} > etc/{section}.toml.example")


@pytest.mark.parametrize("section", ["collector", "exporter"])
def test_every_key_of_a_sample_is_valid_once_uncommented(tmp_path, section):
    text = render_sample(section)
    keys = re.findall(r"^#(\w+) = ", text, flags=re.M)
    assert keys == [s.name for s in table.settings_for(section)]
    uncommented = tmp_path / "uncommented.toml"
    uncommented.write_text(re.sub(r"^#(\w+ = )", r"\1", text, flags=re.M))
    loaded = table.load_file(uncommented, section)
    for setting in table.settings_for(section):
        if f"{section}.{setting.name}" in EXAMPLES:
            continue
        default = list(setting.default) if setting.multiple else setting.default
        assert loaded[setting.name] == default, setting.name


def test_examples_name_only_real_settings_and_cover_every_unset_default():
    for key in EXAMPLES:
        section, name = key.split(".")
        assert table.find_setting(section, name) is not None, key
    for setting in table.SETTINGS:
        if setting.default in (None, ()):
            assert f"{setting.section}.{setting.name}" in EXAMPLES, setting.name
