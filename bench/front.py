#!/usr/bin/env python3
"""What the collector's front costs per entry, stage by stage, before and after issue 15.

The bodies are what exporters send: the entries the exporter's parsers make of the real
samples (``shared/samples/<source>/``, read the way ``bench/parse.py`` reads them), grouped
into gzip payloads of at most 100 entries by ``thinkt.exporter.ship.payload.build``.
Where the samples are absent, synthetic entries of the same shape stand in (said so in
the output).

Each stage runs over every body in this process, one core, best of ``--repeat`` in CPU
time; ``before`` is the code path as it was before issue 15 (kept callable here),
``after`` is the one in the tree. Stages: inflate the gzip body (``body.read_body``), parse
the JSON (``body.parse_json``), validate the envelope (``ingest_schema``), validate the
entries (``load_entries``), build the batch for the writer (``IngestRequest``), and pickle
it as ``multiprocessing.Queue.put`` does (the writer unpickles it; listed apart, it is
the writer's core). A second table sets the candidates side by side: marshmallow as it
was, marshmallow tuned, the fast path; stdlib json and orjson (when installed); and the
fast path on entries it does not recognise (every one goes to marshmallow). Last, the
batches go through a real ``multiprocessing.Queue`` to a reader process.

Usage: python3 bench/front.py [--repeat 5] [--samples DIR] [--copies 4]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import pickle
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from marshmallow import ValidationError, fields, validate  # noqa: E402
from parse import (APPENDED, REWRITTEN, SAMPLES, NoSamples, build_appended,  # noqa: E402
                   build_rewritten)

from thinkt.collector import body as body_module  # noqa: E402
from thinkt.collector import schemas  # noqa: E402
from thinkt.collector.channel import Ingest, IngestRequest  # noqa: E402
from thinkt.collector.schemas import (ENTRY_FIELDS, MAX_ENTRIES, EntrySchema,  # noqa: E402
                                      IngestSchema, ingest_schema, load_entries,
                                      load_entry)
from thinkt.exporter.entry import Entry  # noqa: E402
from thinkt.exporter.ship import payload  # noqa: E402
from thinkt.exporter.sources import get, is_whole_file  # noqa: E402

LIMIT = 10 * 1024 * 1024
WORDS = ("the quick brown fox jumps over lazy dog refactor function test module import "
         "error value return class python duckdb query index writer worker batch commit "
         "session token model request response").split()


# -- the entries -------------------------------------------------------------------------
def read_samples(samples: Path, home: Path) -> list[Entry]:
    """Every entry the exporter's parsers make of the samples (files laid out in ``home``).

    :raises NoSamples: no sample file at all.
    """
    found: list[Entry] = []
    for row in list(APPENDED) + list(REWRITTEN):
        whole = row in REWRITTEN
        name = REWRITTEN[row][0] if whole else row
        try:
            paths = (build_rewritten(row, samples, home, 1) if whole
                     else build_appended(row, samples, home, 1))
        except NoSamples:
            continue
        source = get(name)
        for path in paths:
            offset, state = 0, None
            while True:
                result = source.read(path, offset, state, final=True).drain()
                found.extend(result.entries)
                if result.offset <= offset or is_whole_file(source, path):
                    break
                offset, state = result.offset, result.state
    if not found:
        raise NoSamples(f"no sample entries under {samples}")
    return found


def synthetic_entries(count: int) -> list[Entry]:
    """Entries shaped like a Claude session's: prompts, replies with usage, tool calls."""
    rng = random.Random(15)
    base = datetime(2026, 2, 1)
    made = []
    for n in range(count):
        role = ("user", "assistant", "tool_use", "tool_result")[n % 4]
        entry = Entry(session_id=f"synthetic-{n // 400}", uuid=f"{n:08x}-0000-4000-8000-0000",
                      role=role, timestamp=(base + timedelta(seconds=n)).isoformat() + ".000Z",
                      project_path="/home/dev/app", git_branch="main", cwd="/home/dev/app",
                      text=" ".join(rng.choices(WORDS, k=rng.randint(10, 120))))
        if role == "assistant":
            entry.model, entry.message_id = "claude-opus-4-6", f"msg_{n}"
            entry.input_tokens, entry.output_tokens = rng.randint(1, 5000), rng.randint(1, 900)
            entry.cache_read_tokens = rng.randint(0, 90000)
        elif role == "tool_use":
            entry.tool_name, entry.has_tool_use = "Bash", True
        made.append(entry)
    return made


def bodies_of(entries: list[Entry], copies: int) -> list[bytes]:
    """Gzip payloads of at most 100 entries, per session, ``copies`` times over."""
    by_source: dict[str, list[Entry]] = {}
    for entry in entries:
        by_source.setdefault(entry.session_id, []).append(entry)
    made = []
    for group in by_source.values():
        made.extend(p.body for p in payload.build("claude", group, instance_id="bench-agent"))
    return made * copies


# -- the front as it was before issue 15 (body.py's inflate and parse are unchanged) -------
class OldIngestSchema(IngestSchema):
    """The envelope as it was: ``entries`` a ``List(Raw())``, visiting every entry."""

    entries = fields.List(fields.Raw(), required=True,
                          validate=validate.Length(min=1, max=MAX_ENTRIES))


old_ingest_schema = OldIngestSchema()


def old_load_entries(raw_entries: list) -> tuple[list[tuple], dict[str, Any]]:
    """``load_entries`` as it was: ``entry_schema.load`` for every entry (candidate a)."""
    rows: list[tuple] = []
    errors: dict[str, Any] = {}
    for index, raw in enumerate(raw_entries):
        result = load_entry(raw)
        if type(result) is tuple:
            rows.append(result)
        else:
            errors[str(index)] = result
    return rows, errors


# -- candidate b: marshmallow tuned ---------------------------------------------------------
class TunedEntrySchema(EntrySchema):
    """EntrySchema without its per-entry post_load hook, loaded many at a time."""

    def _to_row(self, data: dict, **kwargs) -> dict:  # not a hook here: plain method
        return data


tuned_schema = TunedEntrySchema(many=True)
_DEFAULT_ROW = tuple(schemas._DEFAULTS.get(name) for name in ENTRY_FIELDS)
_KEEP_EMPTY = {ENTRY_FIELDS.index("uuid"), ENTRY_FIELDS.index("text")}


def tuned_load_entries(raw_entries: list) -> tuple[list[tuple], dict[str, Any]]:
    """One ``load(many=True)``, rows built after; a batch with an error goes one by one."""
    try:
        loaded = tuned_schema.load(raw_entries)
    except ValidationError:
        return old_load_entries(raw_entries)
    rows = []
    for data in loaded:
        row = list(_DEFAULT_ROW)
        for index, name in enumerate(ENTRY_FIELDS):
            value = data.get(name)
            if value is not None:
                row[index] = None if value == "" and index not in _KEEP_EMPTY else value
        rows.append(tuple(row))
    return rows, {}


# -- the stages ------------------------------------------------------------------------------
def cpu_best(func: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return max(best, 1e-9)


def batch_of(envelope: dict, rows: list[tuple]) -> IngestRequest:
    """What ``api.ingest`` hands the writer (the same expression)."""
    metadata = envelope.get("metadata")
    return IngestRequest(
        source=envelope["source"], session_id=envelope["session_id"],
        project_path=envelope.get("project_path") or None,
        instance_id=envelope.get("instance_id") or None,
        machine_id=envelope.get("machine_id") or None,
        metadata=json.dumps(metadata) if metadata else None,
        received_at=datetime(2026, 2, 1), entries=rows)


def orjson_loads() -> Callable[[bytes], Any] | None:
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


def unrecognised(raw: dict) -> dict:
    """The same entry in a spelling the fast path leaves to marshmallow (role in capitals)."""
    return dict(raw, role=str(raw.get("role", "user")).upper())


def queue_through(messages: list[bytes | Any], entries: int) -> float:
    """Wall µs per entry of ``messages`` through a real multiprocessing.Queue to a reader."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=64)
    done = context.Queue()
    reader = context.Process(target=_drain, args=(queue, done, len(messages)))
    reader.start()
    start = time.perf_counter()
    for message in messages:
        queue.put(message)
    done.get(timeout=120)
    elapsed = time.perf_counter() - start
    reader.join(10)
    return elapsed * 1e6 / entries


def _drain(queue: Any, done: Any, count: int) -> None:
    for _ in range(count):
        queue.get()
    done.put(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs per stage (best kept).")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="The samples directory.")
    parser.add_argument("--copies", type=int, default=4,
                        help="How many times the set of bodies is gone through per run.")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="thinkt-front-"))
    try:
        made = read_samples(args.samples, home)
        corpus = f"real samples ({args.samples})"
    except NoSamples as exc:
        print(f"skipped the real samples: {exc}; using synthetic entries", file=sys.stderr)
        made = synthetic_entries(3000)
        corpus = "synthetic entries"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    bodies = bodies_of(made, args.copies)
    plain = [body_module.read_body(io.BytesIO(b), "gzip", LIMIT) for b in bodies]
    parsed = [json.loads(p) for p in plain]
    envelopes = [ingest_schema.load(d) for d in parsed]
    entries = sum(len(e["entries"]) for e in envelopes)
    batches = [batch_of(e, load_entries(e["entries"])[0]) for e in envelopes]
    messages = [Ingest("1234-abcd", n, b) for n, b in enumerate(batches)]
    pickled = [ForkingPickler.dumps(m) for m in messages]
    print(f"corpus: {corpus}: {len(made)} entries, {len(bodies) // args.copies} bodies "
          f"(x{args.copies}), {sum(map(len, plain)) / entries:.0f} B of JSON and "
          f"{sum(map(len, bodies)) / entries:.0f} B of gzip per entry; CPU time, best of "
          f"{args.repeat}\n")

    def per_entry(func: Callable[[], Any]) -> float:
        return cpu_best(func, args.repeat) * 1e6 / entries

    def over(func: Callable[[Any], Any], items: list) -> Callable[[], None]:
        return lambda: [func(item) for item in items]

    inflate = over(lambda b: body_module.read_body(io.BytesIO(b), "gzip", LIMIT), bodies)
    stages = [
        ("inflate gzip", inflate, inflate),
        ("parse JSON", over(json.loads, plain), over(body_module.parse_json, plain)),
        ("envelope", over(old_ingest_schema.load, parsed), over(ingest_schema.load, parsed)),
        ("entries", over(lambda e: old_load_entries(e["entries"]), envelopes),
         over(lambda e: load_entries(e["entries"]), envelopes)),
        ("batch", over(lambda e: batch_of(e, []), envelopes),
         over(lambda e: batch_of(e, []), envelopes)),
        ("pickle for the queue", over(ForkingPickler.dumps, messages),
         over(ForkingPickler.dumps, messages)),
    ]
    print(f"{'stage':<24}{'before µs/entry':>16}{'after µs/entry':>16}{'after entries/s':>17}")
    totals = [0.0, 0.0]
    for name, before, after in stages:
        costs = per_entry(before), per_entry(after)
        totals = [t + c for t, c in zip(totals, costs)]
        print(f"{name:<24}{costs[0]:>16.2f}{costs[1]:>16.2f}{1e6 / costs[1]:>17,.0f}")
    print(f"{'front, total':<24}{totals[0]:>16.2f}{totals[1]:>16.2f}{1e6 / totals[1]:>17,.0f}")
    unpickle = per_entry(over(pickle.loads, pickled))
    size = sum(map(len, pickled)) / entries
    print(f"{'(writer) unpickle':<24}{unpickle:>16.2f}{unpickle:>16.2f}{1e6 / unpickle:>17,.0f}")
    # Not this to change (the row's timestamp is a datetime by contract): how much
    # of the pickling is the datetimes, measured on the same batches with the time as text.
    as_text = [Ingest("1234-abcd", n, b._replace(entries=[
        r[:2] + (None if r[2] is None else r[2].isoformat(),) + r[3:] for r in b.entries]))
        for n, b in enumerate(batches)]
    text_cost = per_entry(over(ForkingPickler.dumps, as_text))
    print(f"pickled batch: {size:.0f} B per entry "
          f"({sum(map(len, plain)) / entries:.0f} B of JSON); pickling it with each "
          f"timestamp as ISO text instead of a datetime: {text_cost:.2f} µs/entry\n")

    print(f"{'candidate':<48}{'µs/entry':>10}{'entries/s':>12}")
    raw_lists = [e["entries"] for e in envelopes]
    moved = [[unrecognised(r) for r in raws] for raws in raw_lists]
    candidates = [
        ("entries (a) marshmallow, one by one (before)", over(old_load_entries, raw_lists)),
        ("entries (b) marshmallow tuned, many=True", over(tuned_load_entries, raw_lists)),
        ("entries (c) fast path + marshmallow (after)", over(load_entries, raw_lists)),
        ("entries (c) on entries it leaves to marshmallow", over(load_entries, moved)),
        ("entries (a) on those same entries", over(old_load_entries, moved)),
        ("parse JSON: stdlib json.loads", over(json.loads, plain)),
    ]
    fast_loads = orjson_loads()
    if fast_loads is None:
        print("(orjson is not installed: its row is skipped)")
    else:
        candidates.append(("parse JSON: orjson.loads", over(fast_loads, plain)))
    for name, func in candidates:
        cost = per_entry(func)
        print(f"{name:<48}{cost:>10.2f}{1e6 / cost:>12,.0f}")
    through = queue_through(messages, entries)
    print(f"{'batches through a multiprocessing.Queue (wall)':<48}{through:>10.2f}"
          f"{1e6 / through:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
