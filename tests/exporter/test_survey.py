"""The dry-run survey: counts per source over a fake home, tables and JSON, no state written."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.report import survey
from thinkt.exporter.entry import Entry
from thinkt.exporter.sources import ReadResult, all_sources, get
from thinkt.exporter.report.tally import UsageTally

CODEX = "rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl"
# sample -> where its assistant keeps it, relative to home
LAYOUT = {
    "claude/marot-spotter__short.jsonl":
        ".claude/projects/-home-marco-projects-spotter/55604662-cf2a-4331-851a-ec234028f8ca.jsonl",
    "claude/marot-spotter__tool_heavy.jsonl":
        ".claude/projects/-home-marco-projects-spotter/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl",
    "codex/madshn-localpush__" + CODEX: ".codex/sessions/2026/02/23/" + CODEX,
    "gemini/Mai0313-VibeCodingTracker__gemini.jsonl":
        ".gemini/tmp/9da8b3df/chats/session-2026-04-23T12-52-0ab84937.jsonl",
    "gemini/Mai0313-VibeCodingTracker__test_conversation_gemini@b36a8d3.json":
        ".gemini/tmp/9da8b3df/chats/session-2025-10-05T07-11-eefc44a3.json",
    "copilot/Mai0313-VibeCodingTracker__copilot.jsonl":
        ".copilot/session-state/96ef38f0-9d09-45c3-8124-6448c36090ed/events.jsonl",
    "kimi/jazzyalex-agent-sessions__small@47a50106.jsonl":
        ".kimi-code/sessions/wd_p_1/session_9eb1bf57-c1af-48a5-b658-0e8d9fe794f5/"
        "agents/main/wire.jsonl",
    "qwen/Piebald-AI-splitrail__qwen_code.jsonl":
        ".qwen/projects/-tmp-qwentest/chats/69f0814a-8bfc-4c8e-93d3-05757f17b96f.jsonl",
}


@pytest.fixture
def filled_home(samples, home) -> Path:
    for sample, target in LAYOUT.items():
        (home / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / sample, home / target)
    return home


def direct(name: str, home: Path) -> tuple[int, Counter, set, dict]:
    """Read each laid-out file of source ``name`` with the parser itself, in one call."""
    source = get(name)
    entries = []
    for target in sorted(t for s, t in LAYOUT.items() if s.startswith(name + "/")):
        entries += source.read(home / target, 0, None).entries
    totals = UsageTally().extend(entries).totals()
    return (len(entries), Counter(e.role for e in entries), {e.session_id for e in entries},
            {survey.TOKEN_NAMES[k]: v for k, v in totals.items()})


def snapshot(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns
            for p in sorted(directory.rglob("*"))}


def test_survey_of_the_default_roots(filled_home):
    before = snapshot(filled_home)
    report = survey.survey(all_sources(), home=filled_home, env={})
    assert snapshot(filled_home) == before  # nothing written, not even a state dir
    assert [r.source for r in report.sources] == [
        "claude", "codex", "gemini", "copilot", "kimi", "qwen"]
    files = Counter(sample.split("/")[0] for sample in LAYOUT)
    for item in report.sources:
        entries, roles, sessions, tokens = direct(item.source, filled_home)
        assert item.files == files[item.source]
        assert (item.entries, item.roles, item.sessions, item.tokens) == (
            entries, dict(roles), len(sessions), tokens)
        assert item.bytes == sum((filled_home / t).stat().st_size for s, t in LAYOUT.items()
                                 if s.startswith(item.source + "/"))
        assert (item.unreadable, item.errors, item.problems) == (0, 0, 0)
    by_name = {r.source: r for r in report.sources}
    # facts of the samples (see the sources' tests): Copilot's shutdown totals, Qwen's usage
    assert by_name["copilot"].tokens == {"input": 35071, "output": 2848, "cache_read": 151738,
                                         "cache_write": 0, "reasoning": 0}
    assert by_name["qwen"].tokens["input"] == 1050 and by_name["qwen"].responses == 2
    assert by_name["gemini"].sessions == 2 and by_name["claude"].sessions == 2
    total = report.total()
    assert total.files == len(LAYOUT)
    assert total.entries == sum(r.entries for r in report.sources)
    assert total.tokens["cache_read"] == sum(r.tokens["cache_read"] for r in report.sources)


def test_json_report(filled_home):
    report = survey.survey([get("qwen"), get("kimi")], home=filled_home, env={})
    data = json.loads(json.dumps(report.to_json()))
    assert [s["source"] for s in data["sources"]] == ["qwen", "kimi"]
    qwen = data["sources"][0]
    assert qwen["roots"] == [str(filled_home / ".qwen" / "projects")]
    assert (qwen["files"], qwen["entries"], qwen["sessions"]) == (1, 5, 1)
    assert qwen["roles"] == {"user": 1, "assistant": 2, "tool_use": 1, "tool_result": 1}
    assert qwen["skipped"] == {"bookkeeping": 4} and qwen["problems"] == 0
    assert data["total"]["entries"] == 5 + 3  # kimi's small session: three prompts
    assert data["total"]["source"] == "total"


def test_explicit_directories(filled_home, tmp_path):
    elsewhere = tmp_path / "copied"
    shutil.copytree(filled_home / ".qwen", elsewhere / "qwen-home")
    shutil.copytree(filled_home / ".gemini", elsewhere / "gemini-home")
    sources = [get("qwen"), get("gemini"), get("codex")]
    roots = survey.roots_for(sources, [elsewhere])
    report = survey.survey(sources, roots=roots)
    assert [(r.source, r.files) for r in report.sources] == [
        ("qwen", 1), ("gemini", 2), ("codex", 0)]
    # overlapping roots: a file is counted once
    twice = survey.survey([get("qwen")], roots={"qwen": [elsewhere, elsewhere / "qwen-home"]})
    assert (twice.sources[0].files, twice.sources[0].entries) == (1, 5)
    # a source left out of the mapping scans nothing
    assert survey.survey([get("kimi")], roots={}).sources[0].files == 0


class FakeSource:
    """A source over ``*.log`` files whose reads can be made to fail."""

    name = "fake"
    whole_file = False

    def __init__(self, fail: dict[str, BaseException]) -> None:
        self.fail = fail

    def roots(self, home, env):
        return [home]

    def matches(self, path):
        return path.suffix == ".log"

    def discover(self, root):
        yield from sorted(root.glob("*.log"))

    def read(self, path, offset, state, final=False):
        if path.name in self.fail:
            raise self.fail[path.name]
        size = path.stat().st_size
        if offset >= size:
            return ReadResult([], offset, state or {})
        # one entry and one odd record per 10 bytes, to exercise the reading loop
        end = min(offset + 10, size)
        entry = Entry("s-" + path.stem, f"{path.stem}@{offset}", "assistant", None,
                      input_tokens=1, message_id=f"{path.stem}@{offset}")
        result = ReadResult([entry], end, {"n": (state or {}).get("n", 0) + 1})
        result.skip("malformed")
        result.skip("bookkeeping", 2)
        return result


def test_unreadable_files_and_parser_failures_are_counted(tmp_path, caplog):
    for name, size in (("a.log", 25), ("gone.log", 5), ("buggy.log", 5)):
        (tmp_path / name).write_bytes(b"x" * size)
    source = FakeSource({"gone.log": FileNotFoundError("gone"), "buggy.log": KeyError("x")})
    # listen on the module's logger itself: a CLI test may have stopped "thinkt" propagating
    logger = logging.getLogger("thinkt.exporter.report.survey")
    logger.addHandler(caplog.handler)
    try:
        report = survey.survey([source], home=tmp_path, env={})
    finally:
        logger.removeHandler(caplog.handler)
    (item,) = report.sources
    assert (item.files, item.unreadable, item.errors) == (3, 1, 1)
    assert (item.entries, item.bytes, item.sessions, item.responses) == (3, 25, 1, 3)
    assert item.tokens["input"] == 3
    assert item.skipped == {"malformed": 3, "bookkeeping": 6} and item.problems == 3
    assert "buggy.log" in caplog.text
    table = survey.render_table(report)
    assert "fake: skipped 3 malformed" in table
    assert "fake: 1 unreadable file(s), 1 parser error(s)" in table


def test_table(filled_home, tmp_path):
    report = survey.survey([get("copilot"), get("qwen")], home=filled_home, env={})
    empty = survey.survey([get("codex")], roots={"codex": [tmp_path / "none"]})
    report.sources += empty.sources
    table = survey.render_table(report)
    lines = table.splitlines()
    assert lines[0].split() == ["source", "files", "entries", "new", "sessions", "input",
                                "output", "cache", "read", "cache", "write", "reasoning",
                                "skipped"]
    assert set(lines[1]) <= {"-", " "}
    copilot = lines[2].split()
    assert copilot == ["copilot", "1", "31", "31", "1", "35,071", "2,848", "151,738", "0", "0",
                       "0"]
    assert lines[3].split()[:4] == ["qwen", "1", "5", "5"]
    assert lines[4].split()[:3] == ["codex", "0", "0"]
    assert lines[6].split()[:5] == ["total", "2", "36", "36", "2"]
    assert "new: not shipped yet, 36 entries for the next export (0 shipped already)." in table
    assert f"codex: no session files under {tmp_path / 'none'}" in table
    assert len({len(line) for line in lines[:7]}) == 1  # right-aligned columns
