"""Negotiated prices in the config file: ``[collector.prices."<model>"]`` reaches the settings,
and a bad table stops ``thinkt collect`` with exit 78 naming the model."""

from __future__ import annotations

import pytest

from thinkt.cli import cli, run
from thinkt.collector.command import build_settings, collect
from thinkt.collector.pricing import Price


def settings_of(config):
    with collect.make_context("collect", ["--config", str(config)]) as ctx:
        return build_settings(ctx.params, ctx.meta.get("thinkt.tables"))


def test_prices_in_the_config_file_reach_the_settings(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[collector]\nport = 5000\n\n[collector.prices."claude-sonnet-4-5"]\n'
                      'input = 2.5\noutput = 12\ncache_read = 0.25\ncache_write = 3\n')
    settings = settings_of(config)
    assert settings.port == 5000
    assert settings.prices == {"claude-sonnet-4-5": Price(2.5, 12.0, 0.25, 3.0)}


def test_without_prices_the_table_alone_prices(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[collector]\nport = 5000\n")
    assert settings_of(config).prices == {}


@pytest.mark.parametrize("table, says", [
    ('[collector]\nprices = 3\n', "collector.prices must be a table"),
    ('[collector.prices."gpt-5"]\ninput = 1\noutput = 2\ncache_read = 0.1\n',
     'collector.prices."gpt-5" has no cache_write'),
    ('[collector.prices."gpt-5"]\ninput = -1\noutput = 2\ncache_read = 0.1\ncache_write = 1\n',
     "input must be a number"),
])
def test_a_bad_price_table_exits_78_naming_the_model(tmp_path, capsys, table, says):
    config = tmp_path / "config.toml"
    config.write_text(table)
    with pytest.raises(SystemExit) as info:
        run(cli, ["collect", "--config", str(config), "--check-config"], prog_name="thinkt")
    output = "".join(capsys.readouterr())
    assert info.value.code == 78, output
    assert says in output and "Traceback" not in output
    assert output.count("Error:") == 1


def test_the_sample_files_price_example_is_valid_once_uncommented(tmp_path):
    from thinkt.config_cli import render_sample

    line = next(line for line in render_sample("collector").splitlines()
                if line.startswith("#prices."))
    config = tmp_path / "config.toml"
    config.write_text("[collector]\n" + line[1:] + "\n")
    assert settings_of(config).prices["claude-sonnet-4-5"].output == 13.5
