"""The dry-run survey: what an export would ship, per source, read without touching any state.

Used by ``thinkt export --dry-run [--json] [--source NAME ...]``::

    from thinkt.exporter.report import survey
    from thinkt.exporter.sources import all_sources

    report = survey.survey(all_sources())            # default roots of each source
    print(survey.render_table(report))               # the human table
    print(json.dumps(report.to_json(), indent=2))    # for scripts

``survey(sources, roots=None, home=None, env=None, offsets=None)`` discovers every
session file of each source and reads it to its end from offset 0 with no saved state,
and writes nothing. With ``offsets`` (the exporter's :class:`OffsetStore`, loaded and
only read), each file is also read from where the last export stopped, with that
export's parser state, exactly as the next export would: those entries are ``new``,
the rest were shipped already (a file that was replaced or truncated is new whole). ``roots`` is None for each source's default
directories (``source.roots(home, env)``; ``home`` defaults to the user's home and
``env`` to ``os.environ``), or a dict ``{source name: [directories]}`` to scan instead
(a source missing from it scans nothing); ``roots_for(sources, dirs)`` builds that dict
for directories given on the command line (every source looks in every directory and
keeps the files it recognises).

Per source the report counts files (and files that could not be read), bytes, entries
(by role), sessions, tokens with each API response counted once (:class:`UsageTally`),
and records skipped by reason. "bookkeeping" and "duplicate" records are normal
(snapshots, progress ticks, repeated events); any other reason is a problem and shows
in the table's ``skipped`` column.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from thinkt.exporter.report.tally import UsageTally
from thinkt.exporter.sources import ReadResult, Source, is_whole_file
from thinkt.exporter.state.offsets import Change, OffsetStore, compare

log = logging.getLogger(__name__)

#: Skip reasons that are the normal shape of a format, not a problem.
NORMAL_SKIPS = frozenset(("bookkeeping", "duplicate"))
#: Token fields as the report (and the collector's stats) name them.
TOKEN_NAMES = {"input_tokens": "input", "output_tokens": "output",
               "cache_read_tokens": "cache_read", "cache_write_tokens": "cache_write",
               "reasoning_tokens": "reasoning"}
#: Reads of one file stop after this many slices (a bound; jsonl.SLICE each).
MAX_READS_PER_FILE = 100_000


@dataclasses.dataclass
class SourceReport:
    """What one source's files hold."""

    source: str
    roots: list[str] = dataclasses.field(default_factory=list)
    files: int = 0
    #: Files that vanished or could not be opened while being read.
    unreadable: int = 0
    #: Files whose parser failed (a bug: logged with its traceback).
    errors: int = 0
    bytes: int = 0
    entries: int = 0
    #: Entries the next export would ship (not shipped yet by the last one).
    new_entries: int = 0
    roles: dict[str, int] = dataclasses.field(default_factory=dict)
    sessions: int = 0
    #: API responses that carried usage (each counted once).
    responses: int = 0
    tokens: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(TOKEN_NAMES.values(), 0))
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def shipped_entries(self) -> int:
        """Entries an earlier export shipped already."""
        return self.entries - self.new_entries

    @property
    def problems(self) -> int:
        """Records skipped for a reason other than normal bookkeeping."""
        return sum(n for reason, n in self.skipped.items() if reason not in NORMAL_SKIPS)

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON data."""
        data = dataclasses.asdict(self)
        data["problems"] = self.problems
        data["shipped_entries"] = self.shipped_entries
        return data


@dataclasses.dataclass
class SurveyReport:
    """One :class:`SourceReport` per surveyed source, in the order surveyed."""

    sources: list[SourceReport]

    def total(self) -> SourceReport:
        """Return the sums over every source (``source`` is "total")."""
        total = SourceReport("total")
        for report in self.sources:
            total.roots += report.roots
            for name in ("files", "unreadable", "errors", "bytes", "entries", "new_entries",
                         "sessions", "responses"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            for into, part in ((total.roles, report.roles), (total.tokens, report.tokens),
                               (total.skipped, report.skipped)):
                for key, value in part.items():
                    into[key] = into.get(key, 0) + value
        return total

    def to_json(self) -> dict[str, Any]:
        """Return ``{"sources": [...], "total": {...}}`` as plain JSON data."""
        return {"sources": [r.to_json() for r in self.sources],
                "total": self.total().to_json()}


def roots_for(sources: Iterable[Source], dirs: Iterable[Path]) -> dict[str, list[Path]]:
    """Return a ``roots`` mapping in which every source scans every one of ``dirs``."""
    dirs = [Path(d).expanduser() for d in dirs]
    return {source.name: list(dirs) for source in sources}


def survey(sources: Iterable[Source], roots: Mapping[str, list[Path]] | None = None,
           home: Path | None = None, env: Mapping[str, str] | None = None,
           offsets: OffsetStore | None = None) -> SurveyReport:
    """Discover and read every session file of ``sources``; return what they hold."""
    home = Path(home) if home is not None else Path.home()
    env = os.environ if env is None else env
    reports = []
    for source in sources:
        dirs = source.roots(home, env) if roots is None else roots.get(source.name, [])
        reports.append(survey_source(source, [Path(d) for d in dirs], offsets))
    return SurveyReport(reports)


def survey_source(source: Source, roots: list[Path],
                  offsets: OffsetStore | None = None) -> SourceReport:
    """Read every file ``source`` finds under ``roots``; return its report."""
    report = SourceReport(source.name, [str(r) for r in roots])
    tally = UsageTally()
    roles: dict[str, int] = {}
    sessions: set[str] = set()
    seen: set[Path] = set()
    for root in roots:
        for path in source.discover(root):
            key = path.resolve()
            if key in seen:  # overlapping roots
                continue
            seen.add(key)
            report.files += 1
            _read_file(source, path, report, tally, roles, sessions)
            report.new_entries += _count_new(source, path, offsets)
    report.roles = roles
    report.sessions = len(sessions)
    report.responses = tally.responses
    report.tokens = {TOKEN_NAMES[k]: v for k, v in tally.totals().items()}
    return report


def _count_new(source: Source, path: Path, offsets: OffsetStore | None) -> int:
    """Count the entries the next export would ship from ``path`` (all without offsets)."""
    record = offsets.get(str(path)) if offsets is not None else None
    try:
        if record is not None and compare(record, path, os.stat(path)) is Change.SAME:
            reads = _reads(source, path, record.offset, record.state or None)
        else:
            reads = _reads(source, path, 0, None)
        return sum(1 for result in reads for _ in _entries(result))
    except Exception:  # counted (and logged) by the full read already
        return 0


def _reads(source: Source, path: Path, offset: int, state: dict | None):
    """Yield the results of reading ``path`` to its end from ``offset``, as an export does.

    A whole document is streamed (as the exporter reads it): take its entries with
    :func:`_entries` before asking for the next result.
    """
    whole = is_whole_file(source, path)
    stream = getattr(source, "stream", None) if whole else None
    for _ in range(MAX_READS_PER_FILE):
        result = stream(path, offset, state) if stream is not None else \
            source.read(path, offset, state, final=True)
        yield result
        if result.offset <= offset or whole:
            return
        offset, state = result.offset, result.state


def _entries(result: ReadResult):
    """Yield a read's entries, batch by batch for a streamed one (none of them kept)."""
    yield from result.entries
    for batch in result.batches or ():
        yield from batch


def _read_file(source: Source, path: Path, report: SourceReport, tally: UsageTally,
               roles: dict[str, int], sessions: set[str]) -> None:
    """Read one file to its end from offset 0 (no saved state), adding to the counts."""
    offset = 0
    try:
        for result in _reads(source, path, 0, None):
            for entry in _entries(result):
                tally.add(entry)
                roles[entry.role] = roles.get(entry.role, 0) + 1
                sessions.add(entry.session_id)
                report.entries += 1
            for reason, count in result.skipped.items():
                report.skipped[reason] = report.skipped.get(reason, 0) + count
            offset = max(result.offset, offset)
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        report.unreadable += 1
    except Exception:  # a parser bug must not hide the other files' report
        log.exception("the %s parser failed on %s", source.name, path)
        report.errors += 1
    report.bytes += offset


def render_table(report: SurveyReport) -> str:
    """Return the report as a text table, one row per source and a total row."""
    header = ("source", "files", "entries", "new", "sessions", "input", "output", "cache read",
              "cache write", "reasoning", "skipped")
    rows = [header]
    for item in report.sources + [report.total()]:
        tokens = item.tokens
        rows.append((item.source, f"{item.files:,}", f"{item.entries:,}",
                     f"{item.new_entries:,}", f"{item.sessions:,}",
                     f"{tokens['input']:,}", f"{tokens['output']:,}",
                     f"{tokens['cache_read']:,}", f"{tokens['cache_write']:,}",
                     f"{tokens['reasoning']:,}", f"{item.problems:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if number == 0 or number == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    total = report.total()
    notes = [f"new: not shipped yet, {total.new_entries:,} entries for the next export "
             f"({total.shipped_entries:,} shipped already)."]
    for item in report.sources:
        problems = {r: n for r, n in sorted(item.skipped.items()) if r not in NORMAL_SKIPS}
        if problems:
            notes.append(f"{item.source}: skipped " + ", ".join(
                f"{n:,} {reason}" for reason, n in problems.items()))
        if item.unreadable or item.errors:
            notes.append(f"{item.source}: {item.unreadable} unreadable file(s), "
                         f"{item.errors} parser error(s) (see the log)")
        if not item.files:
            notes.append(f"{item.source}: no session files under "
                         + (", ".join(item.roots) or "(no directory)"))
    return "\n".join(lines + [""] + notes) + "\n"
