"""Every thinkt command and flag the deployment docs, units and examples use answers ``--help``."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from thinkt.cli import COMMANDS, cli, load_command
from thinkt.config_cli import config

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = ("thinkt", "thinkt-collector", "thinkt-exporter")
#: Where a command line ends inside a shell line.
ENDS = {"|", "&&", ";", ")", ">", "2>/dev/null;", "||"}


def deployment_lines() -> list[str]:
    """Command lines of the README's Deployment section, the units, cron and Docker."""
    readme = (REPO / "README.rst").read_text()
    section = readme[readme.index("\nDeployment\n"):]
    lines = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    lines += re.findall(r"``(thinkt[^`]*)``", section)
    for unit in sorted((REPO / "systemd").rglob("*.service")):
        lines += [line.split("=", 1)[1] for line in unit.read_text().splitlines()
                  if line.startswith("ExecStart=")]
    lines += [line for line in (REPO / "etc" / "crontab.example").read_text().splitlines()
              if not line.startswith("#")]
    docker = (REPO / "etc" / "docker" / "Dockerfile").read_text()
    lines += [" ".join(re.findall(r'"([^"]+)"', line)) for line in docker.splitlines()
              if line.startswith("CMD [")]
    return lines


def invocations(line: str) -> list[tuple[str, list[str], list[str]]]:
    """Return ``(program, subcommands, flags)`` for each thinkt program the line runs."""
    found = []
    tokens = line.replace("'", " ").replace('"', " ").split()
    for i, token in enumerate(tokens):
        program = token.rsplit("/", 1)[-1]
        if program not in PROGRAMS:
            continue
        words: list[str] = []
        flags: list[str] = []
        for arg in tokens[i + 1:]:
            if arg in ENDS:
                break
            if arg.startswith("--"):
                flags.append(arg.split("=", 1)[0])
            elif not flags and re.fullmatch(r"[a-z]+", arg) and program == "thinkt":
                words.append(arg)
        found.append((program, words, flags))
    return found


def command_for(program: str, words: list[str]) -> tuple[click.Command, list[str]]:
    """Return the click command a program runs and the subcommand path below it."""
    if program == "thinkt-collector":
        return load_command(COMMANDS["collect"]), words
    if program == "thinkt-exporter":
        return load_command("thinkt.exporter.command:exporter"), words
    if words and words[0] == "config" and "config" not in COMMANDS:
        return config, words[1:]  # until thinkt.cli lists it
    return cli, words


CASES = sorted({(p, tuple(w), tuple(f)) for line in deployment_lines()
                for p, w, f in invocations(line)})


def test_the_docs_use_every_program_and_mode():
    assert {(p, w[:1]) for p, w, _ in CASES} >= {
        ("thinkt", ("collect",)), ("thinkt", ("export",)), ("thinkt", ("config",)),
        ("thinkt-collector", ()), ("thinkt-exporter", ())}


@pytest.mark.parametrize("program, words, flags", CASES)
def test_each_documented_command_and_flag_answers_help(program, words, flags):
    command, path = command_for(program, list(words))
    result = CliRunner().invoke(command, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for flag in flags:
        if flag != "--help":
            assert re.search(rf"(^|[\s,/]){re.escape(flag)}\b", result.output, flags=re.M), (
                f"{program} {' '.join(words)} has no {flag}")
