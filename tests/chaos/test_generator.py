"""The generator's bookkeeping matches what the real parsers read from the files it writes.

If this failed, the chaos run would report "lost" entries that were never entries at
all; so the identities and token totals it expects are checked against the parsers here.
"""

from __future__ import annotations

import random
import time

from thinkt.exporter import sources
from tests.chaos.generator import SOURCES, TOKEN_KINDS, Generator


def parsed(generator: Generator) -> tuple[set, dict]:
    """Read every generated file whole; return identities and per-source token totals."""
    identities, usage = set(), {s: {} for s in SOURCES}
    for session in generator.sessions:
        result = sources.get(session.source).read(session.path, 0, None)
        assert result.offset == session.size  # every line complete and consumed
        for entry in result.entries:
            assert (entry.session_id, entry.uuid) not in identities
            identities.add((entry.session_id, entry.uuid))
            if entry.message_id is None:
                continue
            key = (entry.session_id, entry.message_id)
            values = (entry.input_tokens, entry.output_tokens, entry.cache_read_tokens,
                      entry.cache_write_tokens, entry.reasoning_tokens)
            # As the collector counts: each API response once, with its largest output.
            old = usage[session.source].get(key)
            if old is None or values[1] > old[1]:
                usage[session.source][key] = values
    totals = {s: dict(zip(TOKEN_KINDS, map(sum, zip(*u.values())))) if u else
              dict.fromkeys(TOKEN_KINDS, 0) for s, u in usage.items()}
    return identities, totals


def test_written_identities_and_tokens_are_what_the_parsers_read(tmp_path):
    generator = Generator(tmp_path, random.Random(7), sessions_per_source=3)
    for _ in range(300):
        generator.step()
    identities, totals = parsed(generator)
    assert identities == generator.written
    assert totals == generator.tokens
    assert {s.source for s in generator.sessions} == set(SOURCES)
    assert all(generator.tokens[s]["output"] > 0 for s in SOURCES)


def test_the_background_thread_appends_until_stopped(tmp_path):
    generator = Generator(tmp_path, random.Random(8), sessions_per_source=1)
    generator.start(rate=200)
    deadline = time.monotonic() + 30
    try:
        while len(generator.written) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        generator.stop()
    frozen = set(generator.written)
    assert len(frozen) >= 50
    time.sleep(0.1)
    assert generator.written == frozen
    assert parsed(generator)[0] == frozen
