"""One precedence chain: flag > THINKT_* environment > config file > default."""

import click
import pytest
from click.testing import CliRunner

from thinkt import config
from thinkt.status import ConfigError


@click.command()
@config.options("collector", names=["port", "host", "token", "quiet", "agent_retention"])
@click.pass_context
def show(ctx, **params):
    for name, value, where in config.describe(ctx, "collector"):
        click.echo(f"{name}={value} ({where})")


def run(args=(), env=None):
    result = CliRunner().invoke(show, list(args), env=env or {}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(line.split("=", 1) for line in result.output.splitlines())


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[collector]\nport = 5000\nhost = "0.0.0.0"\ntoken = ["from-file"]\n'
                    'agent_retention = "2d"\n')
    return path


def test_defaults_apply_without_anything():
    shown = run()
    assert shown["port"] == "4318 (default)"
    assert shown["host"] == "localhost (default)"


def test_file_beats_default(config_file):
    shown = run(["--config", str(config_file)])
    assert shown["port"].startswith("5000 (file")
    assert shown["agent_retention"].startswith("172800.0 (file")


def test_env_beats_file(config_file):
    shown = run(["--config", str(config_file)], env={"THINKT_PORT": "6000"})
    assert shown["port"] == "6000 (env THINKT_PORT)"
    assert shown["host"].startswith("0.0.0.0 (file")


def test_flag_beats_env(config_file):
    shown = run(["--config", str(config_file), "-p", "7000"], env={"THINKT_PORT": "6000"})
    assert shown["port"] == "7000 (flag)"


def test_config_file_found_through_thinkt_config_and_xdg(config_file, home):
    assert run(env={"THINKT_CONFIG": str(config_file)})["port"].startswith("5000")
    xdg = home / ".config" / "thinkt"
    xdg.mkdir(parents=True)
    (xdg / "config.toml").write_text("[collector]\nport = 5555\n")
    assert run()["port"].startswith("5555 (file")


def test_secrets_are_masked(config_file):
    assert run(["--config", str(config_file)])["token"].startswith("['****']")


@pytest.mark.parametrize("text, named", [
    ("[collector]\nprot = 1\n", "collector.prot"),
    ("[collector]\nport = \"many\"\n", "collector.port"),
    ("[collector]\nquiet = \"yes\"\n", "collector.quiet"),
    ("[colector]\nport = 1\n", "colector"),
    ("[collector\n", "not valid TOML"),
])
def test_bad_files_name_the_key(tmp_path, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load_file(path, "collector")
    assert named in err.value.message


@pytest.mark.parametrize("value, expected", [("100MB", 100 * 1024**2), ("512k", 512 * 1024),
                                             ("1048576", 1048576), ("1.5G", int(1.5 * 1024**3))])
def test_byte_sizes(value, expected):
    assert config.BYTE_SIZE.convert(value, None, None) == expected


@pytest.mark.parametrize("value, expected", [("30s", 30.0), ("5m", 300.0), ("7d", 604800.0),
                                             ("90", 90.0), (2, 2.0)])
def test_durations(value, expected):
    assert config.DURATION.convert(value, None, None) == expected


@pytest.mark.parametrize("value", ["soon", "5 weeks", "-1s"])
def test_bad_durations_fail(value):
    with pytest.raises(click.BadParameter):
        config.DURATION.convert(value, None, None)
