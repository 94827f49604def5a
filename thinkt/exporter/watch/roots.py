"""Which directories to read, and for which source: each source's defaults or ``--watch-dir``.

A ``--watch-dir`` is either ``source=DIR`` or a bare directory, matched to the source
whose layout it has: first by where it sits relative to the sources' default
directories (``~/.claude`` holds ``~/.claude/projects``), then by which source finds
session files in it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from thinkt.exporter.sources import Source
from thinkt.status import ConfigError

log = logging.getLogger(__name__)

#: How many files each source may find in a bare --watch-dir while we guess its owner.
_SNIFF_FILES = 200


@dataclasses.dataclass(frozen=True)
class WatchRoot:
    """One directory and the source whose session files it holds."""

    source: Source
    path: Path
    #: For a --watch-dir: the default directory it stands in for. A source recognises
    #: its files by their place in its usual layout, which a directory of another name
    #: keeps only below the root.
    alias: Path | None = None

    def __str__(self) -> str:
        return f"{self.source.name}={self.path}"

    def owns(self, path: Path) -> bool:
        """Return True when ``path`` (under this root) is a session file of its source."""
        if self.source.matches(path):
            return True
        if self.alias is None or self.alias == self.path:
            return False
        try:
            relative = path.relative_to(self.path)
        except ValueError:
            return False
        return self.source.matches(self.alias / relative)


def default_roots(sources: Iterable[Source], home: Path, env: Mapping[str, str],
                  ) -> list[WatchRoot]:
    """Return every source's default directories (existing or not: they may appear later)."""
    roots = []
    for source in sources:
        for path in source.roots(home, env):
            roots.append(WatchRoot(source, Path(path)))
    return dedupe(roots)


def dedupe(roots: Iterable[WatchRoot]) -> list[WatchRoot]:
    """Drop repeated roots and roots inside another root of the same source."""
    result: list[WatchRoot] = []
    for root in sorted(roots, key=lambda r: (r.source.name, len(r.path.parts))):
        if any(r.source.name == root.source.name and _within(root.path, r.path) for r in result):
            continue
        result.append(root)
    return result


def parse_watch_dirs(values: Sequence[str], sources: Sequence[Source], home: Path,
                     env: Mapping[str, str]) -> list[WatchRoot]:
    """Turn ``--watch-dir`` values into roots; raise ConfigError for one we cannot place."""
    by_name = {s.name: s for s in sources}
    roots = []
    for value in values:
        name, sep, rest = value.partition("=")
        if sep and name in by_name:
            source = by_name[name]
            roots.append(WatchRoot(source, _absolute(rest, home), _alias(source, home, env)))
        elif sep and "/" not in name:
            raise ConfigError(f"--watch-dir {value!r}: unknown source {name!r}",
                              hint=f"Sources are: {', '.join(by_name)}.")
        else:
            directory = _absolute(value, home)
            source = match_source(directory, sources, home, env)
            roots.append(WatchRoot(source, directory, _alias(source, home, env)))
    return dedupe(roots)


def match_source(directory: Path, sources: Sequence[Source], home: Path,
                 env: Mapping[str, str]) -> Source:
    """Return the source whose layout ``directory`` has; raise ConfigError when unclear."""
    placed = []
    for source in sources:
        for root in source.roots(home, env):
            root = Path(root)
            if _within(directory, root) or _within(root, directory):
                placed.append(source)
                break
    if len(placed) == 1:
        return placed[0]
    candidates = placed or list(sources)
    counts = []
    if directory.is_dir():
        for source in candidates:
            found = _count(source.discover(directory))
            if found:
                counts.append((found, source))
    counts.sort(key=lambda c: -c[0])
    if counts and (len(counts) == 1 or counts[0][0] > counts[1][0]):
        log.info("--watch-dir %s holds %s sessions", directory, counts[0][1].name)
        return counts[0][1]
    raise ConfigError(f"cannot tell which assistant's sessions {directory} holds",
                      hint="Name it: --watch-dir SOURCE=DIR (e.g. claude=~/work/claude-projects).")


def _alias(source: Source, home: Path, env: Mapping[str, str]) -> Path | None:
    defaults = source.roots(home, env)
    return Path(defaults[0]) if defaults else None


def _count(paths: Iterator[Path]) -> int:
    try:
        return sum(1 for _ in itertools.islice(paths, _SNIFF_FILES))
    except OSError:
        return 0


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _absolute(value: str, home: Path) -> Path:
    text = value.strip()
    if text == "~" or text.startswith("~/"):
        text = str(home) + text[1:]
    return Path(text).absolute()
