"""Kimi sessions as entries: the source, which hands each file to the reader of its kind.

Two formats share the ``kimi`` source: Kimi Code journals (:mod:`.code`) and the
classic kimi-cli ``wire.jsonl``/``context.jsonl`` files (:mod:`.classic`). Both stream an
assistant step in pieces; :mod:`.steps` assembles them into entries for either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

from thinkt.exporter.sources import ReadResult, env_dir, find
from thinkt.exporter.sources.kimi import classic, code


class KimiSource:
    """Kimi Code and classic kimi-cli sessions."""

    name = "kimi"
    whole_file = False

    def roots(self, home: Path, env: Mapping[str, str]) -> list[Path]:
        """Return ``$KIMI_CODE_HOME/sessions`` (default ``~/.kimi-code``) and the classic
        ``$KIMI_SHARE_DIR/sessions`` (default ``~/.kimi``)."""
        return [env_dir(env, "KIMI_CODE_HOME", home / ".kimi-code") / "sessions",
                env_dir(env, "KIMI_SHARE_DIR", home / ".kimi") / "sessions"]

    def matches(self, path: Path) -> bool:
        """Return True for a Kimi Code agent journal or a classic session file."""
        if path.name == "wire.jsonl":
            return code.is_journal(path) or classic.is_wire(path)
        if path.name == "context.jsonl":
            return classic.is_context_only(path)
        return classic.is_flat_context(path)

    def discover(self, root: Path) -> Iterator[Path]:
        """Yield every session file under ``root``."""
        return find(root, "*.jsonl", self.matches)

    def read(self, path: Path, offset: int, state: dict | None, final: bool = False,
             ) -> ReadResult:
        """Read new records of a session file (OSError propagates if it vanished)."""
        path = Path(path)
        reader = code if code.is_journal(path) else classic
        return reader.read(path, offset, state, final)


SOURCE = KimiSource()
