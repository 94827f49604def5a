"""Fixtures for source tests: read a file whole, or as it grows in parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def line_ends(data: bytes) -> list[int]:
    """Return the offset just past every newline of ``data`` (the line boundaries)."""
    ends, pos = [], data.find(b"\n")
    while pos != -1:
        ends.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    return ends


def spread(points: list[int], count: int) -> list[int]:
    """Return up to ``count`` points taken evenly from ``points``."""
    if len(points) <= count:
        return list(points)
    step = len(points) / count
    return sorted({points[int(i * step)] for i in range(count)})


class Reads:
    """Drive a source the way the exporter does: whole, or following an appended file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def whole(self, source, path: Path):
        """Read ``path`` in one call from offset 0."""
        return source.read(path, 0, None)

    def growing(self, source, data: bytes, cuts: list[int], name: str):
        """Write ``data`` to ``name`` up to each cut in turn, reading after each write.

        State goes through JSON between reads, as the exporter stores it. Returns
        ``(entries, skipped, offset, state)`` over all reads.
        """
        target = self.directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
        entries, skipped, offset, state, written = [], {}, 0, None, 0
        for cut in sorted(set(cuts) | {len(data)}):
            with open(target, "ab") as fh:
                fh.write(data[written:cut])
            written = cut
            result = source.read(target, offset, state)
            entries.extend(result.entries)
            for reason, count in result.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + count
            offset = result.offset
            state = json.loads(json.dumps(result.state))
        return entries, skipped, offset, state

    def assert_same_as_whole(self, source, path: Path, points: int = 6) -> None:
        """Assert that reading ``path`` as it grows gives exactly what one read gives.

        Cuts: single line boundaries, many boundaries at once, and byte offsets inside
        lines (a line still being written). State must stay JSON and small.
        """
        data = path.read_bytes()
        whole = self.whole(source, path)
        boundaries = line_ends(data)
        cut_sets = [[b] for b in spread(boundaries, points)]
        cut_sets.append(spread(boundaries, 4 * points))
        cut_sets.append(sorted({len(data) // 3 + 7, len(data) // 2 + 1, max(len(data) - 5, 0)}))
        for cuts in cut_sets:
            entries, skipped, offset, state = self.growing(source, data, cuts, path.name)
            assert entries == whole.entries, cuts
            assert skipped == whole.skipped, cuts
            assert offset == whole.offset, cuts
            assert state == json.loads(json.dumps(whole.state)), cuts
            assert len(json.dumps(state)) < 8192


@pytest.fixture
def reads(tmp_path) -> Reads:
    """A :class:`Reads` writing its growing files under ``tmp_path``."""
    directory = tmp_path / "reads"
    directory.mkdir()
    return Reads(directory)
