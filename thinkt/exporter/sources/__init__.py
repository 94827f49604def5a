"""The source registry: one module per assistant, each a :class:`Source`.

Adding an assistant is one module under this package and one line in ``_MODULES``.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Protocol

from thinkt.exporter.entry import Entry


@dataclasses.dataclass
class ReadResult:
    """What one incremental read of a session file produced."""

    entries: list[Entry]
    #: Where the next read starts: the end of the last complete line consumed (JSONL),
    #: or the size of the file that was read whole (rewritten-in-place formats).
    offset: int
    #: Parser state to hand back on the next read (JSON-serialisable, small).
    state: dict
    #: Records skipped, by reason ("malformed", "unknown_type", "too_long", ...).
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Bytes at the end of the file left for a later read: a last line without its
    #: newline that was not taken (see ``jsonl.read_lines``); 0 otherwise.
    tail: int = 0
    #: A streamed read (a whole document, item by item): entries come in batches, and
    #: ``offset``, ``state`` and ``skipped`` are final once the batches are exhausted.
    batches: Iterable[list[Entry]] | None = None

    def skip(self, reason: str, count: int = 1) -> None:
        """Count a skipped record."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def drain(self) -> "ReadResult":
        """Collect a streamed read's batches into ``entries``; return self."""
        if self.batches is not None:
            batches, self.batches = self.batches, None
            for batch in batches:
                self.entries.extend(batch)
        return self


class Source(Protocol):
    """Where one assistant keeps its sessions, and how a record becomes entries."""

    #: Short name used on the wire and on the command line ("claude", "codex", ...).
    name: str
    #: True when session files are rewritten in place and must be re-read whole. A source
    #: with both kinds of files also defines ``is_whole_file(path)``: callers ask
    #: :func:`is_whole_file` rather than reading this attribute.
    whole_file: bool

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return the default directories holding this assistant's sessions."""

    def matches(self, path: Path) -> bool:
        """Return True when ``path`` (absolute) is a session file of this source."""

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every session file under ``root``."""

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read what is new in ``path`` since ``offset`` (with the state of the last read).

        Never raises for bad content: malformed records are skipped and counted.
        A last line without its newline is consumed only when ``final`` (the file is
        quiet) and it is one whole record. A read is bounded (a slice of the file):
        callers read again from the returned offset until it stops moving.

        A source whose whole files can be large may also define ``stream(path, offset,
        state)``: the same read, with the entries in ``ReadResult.batches`` as they are
        parsed, so a document of any size is never held whole (see ``rewritten.py``).
        """


# name -> module under thinkt.exporter.sources; each module defines SOURCE.
_MODULES = {
    "claude": "claude",
    "codex": "codex",
    "gemini": "gemini",
    "copilot": "copilot",
    "kimi": "kimi",
    "qwen": "qwen",
}

NAMES = tuple(_MODULES)


def get(name: str) -> Source:
    """Return the source called ``name``."""
    if name not in _MODULES:
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.SOURCE


def is_whole_file(source: Source, path: Path) -> bool:
    """Return True when ``path`` of ``source`` is rewritten in place and must be re-read whole.

    Most sources keep one kind of file and answer with their ``whole_file`` attribute.
    A source that keeps both kinds (Gemini: rewritten JSON and appended JSONL; Copilot:
    appended events and legacy rewritten JSON) defines ``is_whole_file(path)``.
    """
    check = getattr(source, "is_whole_file", None)
    return bool(check(path)) if check is not None else bool(source.whole_file)


def env_dir(env: Mapping[str, str], name: str, default: Path) -> Path:
    """Return the directory the environment variable ``name`` sets (``~`` expanded), or
    ``default`` when it is unset or blank: how each assistant lets its home be moved."""
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else default


def find(root: Path, pattern: str, matches: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield, sorted, the files under ``root`` named like ``pattern`` that ``matches`` accepts.

    A missing ``root`` yields nothing (the assistant is not installed).
    """
    if not root.is_dir():
        return
    for path in sorted(root.rglob(pattern)):
        if matches(path) and path.is_file():
            yield path


def all_sources() -> list[Source]:
    """Return every registered source, in registry order."""
    return [get(name) for name in NAMES]
