"""Which directories are read, for which source: defaults, ``--watch-dir`` and layouts."""

from __future__ import annotations

import pytest

from thinkt.exporter.watch.roots import WatchRoot, dedupe, default_roots, parse_watch_dirs
from thinkt.exporter.sources import get
from thinkt.status import ConfigError
from tests.exporter.corpus import claude_line


@pytest.fixture
def sources():
    return [get("claude"), get("codex")]


def test_defaults_come_from_each_source(home, sources):
    roots = default_roots(sources, home, {})
    assert WatchRoot(sources[0], home / ".claude" / "projects") in roots
    assert WatchRoot(sources[1], home / ".codex" / "sessions") in roots


def test_named_and_layout_matched_watch_dirs(home, tmp_path, sources):
    (home / ".codex" / "sessions" / "2025").mkdir(parents=True)
    roots = parse_watch_dirs(["claude=~/work/claude", str(home / ".codex")], sources, home, {})
    assert [(r.source.name, r.path) for r in roots] == [
        ("claude", home / "work" / "claude"), ("codex", home / ".codex")]
    # A bare directory elsewhere is matched by the files its layout holds.
    other = tmp_path / "archive"
    (other / "2025" / "01" / "02").mkdir(parents=True)
    (other / "2025" / "01" / "02" / "rollout-2025-01-02T00-00-00-x.jsonl").write_text("")
    assert parse_watch_dirs([str(other)], sources, home, {})[0].source.name == "codex"


def test_unplaceable_watch_dirs_are_config_errors(home, tmp_path, sources):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot tell"):
        parse_watch_dirs([str(tmp_path / "empty")], sources, home, {})
    with pytest.raises(ConfigError, match="unknown source 'emacs'"):
        parse_watch_dirs(["emacs=/x"], sources, home, {})


def test_a_renamed_directory_still_owns_its_files(home, tmp_path, sources):
    root = parse_watch_dirs([f"claude={tmp_path / 'sessions'}"], sources, home, {})[0]
    inside = tmp_path / "sessions" / "-proj" / "s.jsonl"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(claude_line("u", "s"))
    assert not root.source.matches(inside)  # not where Claude Code puts it...
    assert root.owns(inside)  # ...but in the same place below the root
    assert not root.owns(tmp_path / "sessions" / "notes.txt")
    assert not root.owns(tmp_path / "elsewhere" / "-proj" / "s.jsonl")


def test_dedupe_drops_repeats_and_nested_roots(home, sources):
    claude = sources[0]
    roots = dedupe([WatchRoot(claude, home / "a"), WatchRoot(claude, home / "a" / "b"),
                    WatchRoot(claude, home / "a")])
    assert roots == [WatchRoot(claude, home / "a")]
