"""Parser fuzzing: hypothesis-damaged copies of EVERY shared sample through EVERY source.

tests/exporter/sources/test_robustness.py runs one sample per source through seeded
mutations; this adds every file of ``samples/`` (including the ones no test places),
every source reading every other source's files, and damage drawn by hypothesis so it
shrinks to a minimal failing input. The promises checked:

- ``read`` never raises, its entries are shippable and its state is JSON;
- an appended (JSONL) file is never consumed past its last newline: the offset is 0 or
  just after a newline, and the entries read are exactly those of the file cut there;
- a file cut at any point and then completed gives the entries (by uuid) of reading it
  whole: nothing lost, nothing invented.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES
from tests.exporter.sources.test_robustness import read_all
from tests.fuzz.conftest import fuzz_examples
from thinkt.exporter.sources import NAMES, get, is_whole_file

SAMPLE_FILES = sorted(str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*")
                      if p.suffix in (".json", ".jsonl")) if SAMPLES.is_dir() else []
ODD_BYTES = [b"\n", b"\r\n", b"\r", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b'{"',
             b"}\n{", b'"', b"\\", b"\\u", b"\\ud800", b"\n\n\n", b"[", b"null\n",
             b'{"type": null}\n', "\u202e\U0001f600".encode()]


# One piece of damage: (kind, where in the file as a fraction, span, junk bytes). Drawn as
# a small recipe rather than as the damaged bytes, so a failure reports a short input.
damages = st.lists(st.tuples(
    st.sampled_from(["insert", "flip", "cut_range", "repeat"]), st.floats(0, 1),
    st.integers(0, 4096), st.sampled_from(ODD_BYTES) | st.binary(min_size=1, max_size=32)),
    min_size=1, max_size=3)


def apply(data: bytes, recipe) -> bytes:
    """Return ``data`` with every piece of damage of ``recipe`` done in turn."""
    for kind, where, span, junk in recipe:
        at = int(where * len(data))
        if kind == "insert":
            data = data[:at] + junk + data[at:]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + junk[:1] + data[at + 1:]
        elif kind == "repeat":
            data = data[:at + span] + data[at:at + span] + data[at + span:]
        else:
            data = data[:at] + data[at + span:]
    return data


def place(tmp_path: Path, sample: str, data: bytes) -> Path:
    # Keep the suffix: Gemini and Copilot decide JSON (rewritten) or JSONL by it.
    path = tmp_path / "chats" / ("session-fuzz" + Path(sample).suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def check_read(source, path: Path, data: bytes) -> None:
    """Read ``data`` whole: nothing raised, nothing partial consumed, everything shippable."""
    path.write_bytes(data)
    entries, _skipped, offset = read_all(source, path)
    json.dumps([e.to_wire() for e in entries])
    assert offset <= len(data)
    if is_whole_file(source, path):
        return
    assert offset == 0 or data[offset - 1:offset] == b"\n", (source.name, offset)
    assert b"\n" not in data[offset:], "a complete line was left unread"
    path.write_bytes(data[:offset])
    assert read_all(source, path)[0] == entries, "entries came from past the offset"


def check_cut_then_completed(source, path: Path, data: bytes, cut: int) -> None:
    """Written up to ``cut``, read, then completed and read on: same as reading it whole."""
    if is_whole_file(source, path):
        return
    path.write_bytes(data)
    whole = read_all(source, path)[0]
    path.write_bytes(data[:cut])
    first = source.read(path, 0, None)
    assert first.offset <= cut
    assert first.offset == 0 or data[first.offset - 1:first.offset] == b"\n"
    entries, result = list(first.entries), first
    path.write_bytes(data)
    for _ in range(256):
        more = source.read(path, result.offset, json.loads(json.dumps(result.state)))
        if more.offset == result.offset:
            break
        entries += more.entries
        result = more
    # The same uuids, not the same list: Gemini JSONL re-appends a message as it grows and,
    # by design, ships each version read in a separate read (the last copy wins only
    # within one read), so a cut between two copies ships the earlier one too.
    assert {e.uuid for e in entries} == {e.uuid for e in whole}


@pytest.fixture(scope="module")
def sample_bytes():
    cache: dict[str, bytes] = {}

    def load(name: str) -> bytes:
        if name not in cache:
            cache[name] = (SAMPLES / name).read_bytes()
        return cache[name]
    return load


def owner(sample: str) -> str:
    return sample.split("/", 1)[0]


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_damaged_samples_through_their_own_source(samples, sample, sample_bytes, tmp_path):
    data = sample_bytes(sample)
    source = get(owner(sample))

    @settings(max_examples=fuzz_examples(12), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(recipe=damages, where=st.floats(0, 1))
    def run(recipe, where):
        damaged = apply(data, recipe)
        path = place(tmp_path, sample, damaged)
        check_read(source, path, damaged)
        check_cut_then_completed(source, path, damaged, int(where * len(damaged)))

    run()


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_through_every_other_source(samples, name, sample_bytes, tmp_path):
    source = get(name)
    for sample in SAMPLE_FILES:
        if owner(sample) == name:
            continue
        data = sample_bytes(sample)
        path = place(tmp_path, sample, data)
        check_read(source, path, data)
        # and a cut in the middle of a line, which must wait for its newline
        check_read(source, path, data[: len(data) // 2 + 7])
