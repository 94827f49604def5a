"""The exporter's identity: a stable instance id, a hashed machine id, the user."""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid

import click
import pytest
from click.testing import CliRunner

from thinkt import config, paths
from thinkt.exporter.state.identity import git_email, instance_id, machine_id, person
from thinkt.status import ConfigError


def test_machine_id_is_hashed_and_stable(tmp_path):
    path = tmp_path / "machine-id"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    first = machine_id((str(tmp_path / "missing"), str(path)))
    assert first == machine_id((str(path),))
    assert len(first) == 32 and "0123456789abcdef" not in first
    assert machine_id((str(tmp_path / "missing"),)) is None


def test_instance_id_is_derived_persisted_and_kept(tmp_path):
    first = instance_id(tmp_path / "a", "machine")
    assert uuid.UUID(first)
    assert (tmp_path / "a" / "instance-id").read_text().strip() == first
    # Same machine and user elsewhere: the same id (cron and systemd agree).
    assert instance_id(tmp_path / "b", "machine") == first
    assert instance_id(tmp_path / "c", "other machine") != first
    # Persisted: a changed machine id keeps the recorded one.
    assert instance_id(tmp_path / "a", "other machine") == first


def test_without_a_machine_id_a_random_id_is_persisted(tmp_path):
    first = instance_id(tmp_path, None)
    assert instance_id(tmp_path, None) == first


# -- who the sessions belong to (--user) -----------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git_config(home, email: str) -> None:
    """Give the fake home a ~/.gitconfig naming ``email``."""
    (home / ".gitconfig").write_text(f"[user]\n\temail = {email}\n")


def test_the_user_set_wins_trimmed_over_git(home):
    git_config(home, "from-git@example.com")
    assert person("  alice@example.com \n", home) == "alice@example.com"


@needs_git
def test_unset_the_user_is_git_user_email(home):
    git_config(home, "dev@example.com")
    assert person(None, home) == "dev@example.com"
    assert person("   ", home) == "dev@example.com"  # blank is unset


@needs_git
def test_a_repository_the_export_starts_in_lends_no_email(home, tmp_path):
    # git is asked in the home directory, whatever the current one is
    git_config(home, "me@example.com")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "project@example.com"],
                   check=True)
    assert git_email(repo) == "project@example.com"  # what asking there would give
    assert person(None, home) == "me@example.com"


def test_without_git_the_user_is_login_at_hostname(home, tmp_path, monkeypatch):
    git_config(home, "dev@example.com")
    empty = tmp_path / "no-git"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no git to run
    monkeypatch.setenv("LOGNAME", "dev")
    assert person(None, home) == f"dev@{socket.gethostname()}"


def test_git_without_an_email_or_failing_falls_back_to_login_at_hostname(home, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("LOGNAME", "dev")
    assert git_email(home) is None
    assert person(None, home) == f"dev@{socket.gethostname()}"
    assert git_email(home / "missing") is None  # cannot even start there


def test_a_user_longer_than_the_collector_takes_is_a_config_error(home):
    with pytest.raises(ConfigError, match="512"):
        person("x" * 513, home)
    assert person("x" * 512, home) == "x" * 512


@click.command()
@config.options("exporter", ["user"])
def resolve(user):
    """What the exporter commands do with the setting."""
    click.echo(person(user, paths.home_dir()))


@needs_git
def test_the_user_follows_the_one_precedence_chain(home, tmp_path, monkeypatch):
    git_config(home, "default@example.com")
    settings = tmp_path / "config.toml"
    settings.write_text('[exporter]\nuser = "file@example.com"\n')
    runner = CliRunner()
    assert runner.invoke(resolve, []).output.strip() == "default@example.com"
    assert runner.invoke(resolve, ["--config", str(settings)]).output.strip() == (
        "file@example.com")
    monkeypatch.setenv("THINKT_USER", "env@example.com")
    assert runner.invoke(resolve, ["--config", str(settings)]).output.strip() == (
        "env@example.com")
    assert runner.invoke(resolve, ["--config", str(settings), "--user", "flag@example.com"]
                         ).output.strip() == "flag@example.com"
