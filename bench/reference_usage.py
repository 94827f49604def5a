"""Token totals of our Claude and Codex parsers next to ccusage's, with every difference explained.

Each shared sample is copied into its own temporary directory laid out like
``~/.claude`` (``projects/<dir>/<session>.jsonl``, sub-agents under
``<session>/subagents/``) or ``~/.codex`` (``sessions/YYYY/MM/DD/rollout-*.jsonl``),
then measured three ways:

* the reference tool: ``npx --yes ccusage@18.0.11 daily --json --offline`` with
  ``CLAUDE_CONFIG_DIR`` on that directory, or ``npx --yes @ccusage/codex@18.0.11 daily
  --json --offline`` with ``CODEX_HOME`` (totals summed over days);
* our source module reading the same files (``UsageTally``: each API response once);
* two independent re-computations from the raw lines, one per rule, so that every
  difference is split into named causes whose sum is the whole difference. A cause
  that does not add up is printed as UNEXPLAINED (and the test fails on it).

Fields are ours: ``input`` without cache reads, ``cache_read``, ``cache_write``,
``output`` (reasoning included), ``reasoning``. @ccusage/codex's ``inputTokens``
includes cached input, so its ``input`` below is ``inputTokens - cachedInputTokens``.

    python bench/reference_usage.py [--samples DIR] [--npm-cache DIR] [--json]

npm downloads go to ``--npm-cache`` (default: a directory under the system temp dir),
never into the repository. Needs node/npx and the npm registry (once, then cached).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinkt.exporter.sources import get  # noqa: E402
from thinkt.exporter.report.tally import UsageTally  # noqa: E402

CCUSAGE = "ccusage@18.0.11"
CCUSAGE_CODEX = "@ccusage/codex@18.0.11"
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"
NPM_CACHE = Path(tempfile.gettempdir()) / "thinkt-reference-npm"
#: The first run downloads the packages; later runs answer in about a second.
NPX_TIMEOUT = 300
CLAUDE_FIELDS = ("input", "cache_read", "cache_write", "output")
CODEX_FIELDS = ("input", "cache_read", "output", "reasoning")
_TALLY = {"input": "input_tokens", "cache_read": "cache_read_tokens",
          "cache_write": "cache_write_tokens", "output": "output_tokens",
          "reasoning": "reasoning_tokens"}
# ccusage accepts a line only with this exact timestamp shape (its usageDataSchema).
_CCUSAGE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class ReferenceUnavailable(RuntimeError):
    """npx is missing, or the reference package could not be installed or run."""


@dataclasses.dataclass
class Comparison:
    """One sample file: our totals, the reference tool's, and the causes of the gap."""

    tool: str
    name: str
    fields: tuple[str, ...]
    ours: dict[str, int]
    theirs: dict[str, int]
    #: cause -> {field: tokens the reference counts more than we do for that cause}
    causes: dict[str, dict[str, int]]
    #: independent re-computation of our rule from the raw lines
    our_rule: dict[str, int]
    #: independent re-computation of the reference tool's rule from the raw lines
    their_rule: dict[str, int]
    #: how our totals change once an unterminated last line is completed (None: no such line)
    pending: dict[str, int] | None = None

    def unexplained(self) -> dict[str, int]:
        """Return, per field, the part of theirs - ours that no cause accounts for."""
        left = {}
        for field in self.fields:
            gap = self.theirs[field] - self.ours[field]
            gap -= sum(cause.get(field, 0) for cause in self.causes.values())
            if gap:
                left[field] = gap
        return left


def npx(package: str, env: dict[str, str], cache: Path) -> dict:
    """Run ``npx --yes <package> daily --json --offline`` and return its JSON."""
    if shutil.which("npx") is None:
        raise ReferenceUnavailable("npx not found (install node to compare with ccusage)")
    cache.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "npm_config_cache": str(cache), "NO_COLOR": "1",
                "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    command = ["npx", "--yes", package, "daily", "--json", "--offline"]
    if package == CCUSAGE:
        command += ["--timezone", "UTC"]
    try:
        done = subprocess.run(command, env=full_env, capture_output=True, text=True,
                              timeout=NPX_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ReferenceUnavailable(f"{package} did not answer in {NPX_TIMEOUT} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ReferenceUnavailable(f"{package} failed ({done.returncode}): {' | '.join(tail)}")
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise ReferenceUnavailable(f"{package} printed no JSON: {done.stdout[:200]!r}") from exc


def raw_lines(path: Path) -> tuple[list[dict], int]:
    """Return the JSON objects of every line and how many come from complete lines."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    records, complete_count = [], 0
    for start, raw in _split(data):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
            if start < complete:
                complete_count += 1
    return records, complete_count


def _split(data: bytes):
    start = 0
    for raw in data.split(b"\n"):
        if raw.strip():
            yield start, raw
        start += len(raw) + 1


# --- Claude Code ----------------------------------------------------------------------

def _claude_usage(record: dict) -> dict[str, int] | None:
    message = record.get("message")
    usage = message.get("usage") if isinstance(message, dict) else None
    if not isinstance(usage, dict):
        return None
    return {"input": usage.get("input_tokens") or 0,
            "output": usage.get("output_tokens") or 0,
            "cache_read": usage.get("cache_read_input_tokens") or 0,
            "cache_write": usage.get("cache_creation_input_tokens") or 0}


def ccusage_rule(records: list[dict]) -> tuple[dict[str, int], int]:
    """ccusage 18.0.11's count: first line of each message.id:requestId pair.

    Returns the totals and how many split responses grew after their first line.
    """
    seen: set[tuple] = set()
    firsts: dict[tuple, int] = {}
    grew: set[tuple] = set()
    totals = dict.fromkeys(CLAUDE_FIELDS, 0)
    for record in records:
        usage = _claude_usage(record)
        if usage is None or not _CCUSAGE_TIMESTAMP.match(str(record.get("timestamp", ""))):
            continue
        key = (record["message"].get("id"), record.get("requestId"))
        if None not in key:
            if key in seen:
                if usage["output"] > firsts[key]:
                    grew.add(key)
                continue
            seen.add(key)
            firsts[key] = usage["output"]
        for field in CLAUDE_FIELDS:
            totals[field] += usage[field]
    return totals, len(grew)


def claude_rule(records: list[dict]) -> dict[str, int]:
    """Our count: each message.id (else requestId) once, with its largest values."""
    responses: dict[str, dict[str, int]] = {}
    for record in records:
        usage = _claude_usage(record)
        if usage is None:
            continue
        key = record["message"].get("id") or record.get("requestId") or id(record)
        seen = responses.setdefault(key, dict.fromkeys(CLAUDE_FIELDS, 0))
        for field in CLAUDE_FIELDS:
            seen[field] = max(seen[field], usage[field])
    return {f: sum(r[f] for r in responses.values()) for f in CLAUDE_FIELDS}


def claude_layout(sample: Path, home: Path) -> Path:
    """Copy ``sample`` into ``home`` as Claude Code would have written it; return the copy."""
    records, _ = raw_lines(sample)
    session = next((r["sessionId"] for r in records if r.get("sessionId")), "session")
    project = home / "projects" / "-samples-project"
    if "__subagents__" in sample.name:
        agent = sample.name.split("__subagents__")[-1]
        target = project / session / "subagents" / agent
    else:
        target = project / f"{session}.jsonl"
    return _copy(sample, target)


def _copy(sample: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample, target)
    return target


def our_totals(name: str, env: dict[str, str], fields: tuple[str, ...]) -> dict[str, int]:
    """Discover and read every file of source ``name`` under ``env``'s directory; tally."""
    source = get(name)
    tally = UsageTally()
    for root in source.roots(Path("/nonexistent"), env):
        for path in source.discover(root):
            tally.extend(source.read(path, 0, None).entries)
    totals = tally.totals()
    return {f: totals[_TALLY[f]] for f in fields}


def compare_claude(sample: Path, work: Path, cache: Path) -> Comparison:
    """Compare one Claude Code sample with ccusage."""
    home = work / ("claude-" + sample.stem)
    claude_layout(sample, home)
    report = npx(CCUSAGE, {"CLAUDE_CONFIG_DIR": str(home)}, cache)
    totals = report.get("totals") or {}
    theirs = {"input": totals.get("inputTokens", 0), "output": totals.get("outputTokens", 0),
              "cache_read": totals.get("cacheReadTokens", 0),
              "cache_write": totals.get("cacheCreationTokens", 0)}
    ours = our_totals("claude", {"CLAUDE_CONFIG_DIR": str(home)}, CLAUDE_FIELDS)

    records, complete = raw_lines(sample)
    their_all, _ = ccusage_rule(records)
    their_complete, grew = ccusage_rule(records[:complete])
    our_rule = claude_rule(records[:complete])
    causes = {}
    unterminated = {f: their_all[f] - their_complete[f] for f in CLAUDE_FIELDS}
    if any(unterminated.values()):
        causes["the last line has no newline yet: ccusage reads it, we wait until it is "
               "complete"] = unterminated
    partial = {f: their_complete[f] - our_rule[f] for f in CLAUDE_FIELDS}
    if any(partial.values()):
        causes[f"ccusage keeps the first line of each split response; {grew} response(s) "
               "wrote a larger output_tokens on a later line, which we count"] = partial
    pending = None
    if complete < len(records):
        after = claude_rule(records)
        pending = {f: after[f] - our_rule[f] for f in CLAUDE_FIELDS}
    return Comparison("claude", sample.name, CLAUDE_FIELDS, ours, theirs, causes,
                      our_rule, their_all, pending)


# --- Codex ------------------------------------------------------------------------------

_CODEX_KEYS = {"input": "input_tokens", "cached": "cached_input_tokens",
               "output": "output_tokens", "reasoning": "reasoning_output_tokens"}


def _codex_usage(value) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    return {k: value.get(v) if isinstance(value.get(v), int) else 0
            for k, v in _CODEX_KEYS.items()}


def _ours(raw: dict[str, int]) -> dict[str, int]:
    """Convert Codex's raw usage (input includes cached) to our fields."""
    return {"input": max(raw["input"] - raw["cached"], 0), "cache_read": raw["cached"],
            "output": raw["output"], "reasoning": raw["reasoning"]}


def codex_rules(records: list[dict]) -> tuple[dict, dict, dict]:
    """Return (our increase rule, @ccusage/codex's rule, per-cause differences)."""
    ours = dict.fromkeys(CODEX_FIELDS, 0)
    theirs = dict.fromkeys(CODEX_FIELDS, 0)
    causes: dict[str, dict[str, int]] = {}
    zero = dict.fromkeys(_CODEX_KEYS, 0)
    previous = their_previous = None
    for record in records:
        payload = record.get("payload")
        if record.get("type") != "event_msg" or not isinstance(payload, dict) \
                or payload.get("type") != "token_count":
            continue
        info = payload.get("info") if isinstance(payload.get("info"), dict) else {}
        total = _codex_usage(info.get("total_token_usage"))
        last = _codex_usage(info.get("last_token_usage"))
        # Ours: the increase of the cumulative total (restart: the whole new total).
        if total is not None:
            if previous is None or any(total[k] < previous[k] for k in total):
                ours_raw, kind = total, "first" if previous is None else "restart"
            else:
                ours_raw = {k: total[k] - previous[k] for k in total}
                kind = "increase" if any(ours_raw.values()) else "repeat"
            previous = total
        else:
            ours_raw, kind = last or zero, "no-total"
        # @ccusage/codex: last_token_usage of every timed event (else the total's delta).
        their_raw = zero
        if record.get("timestamp"):
            their_raw = last
            if their_raw is None and total is not None:
                their_raw = {k: max(total[k] - (their_previous or zero)[k], 0) for k in total}
            if total is not None:
                their_previous = total
            their_raw = their_raw or zero
            their_raw = dict(their_raw, cached=min(their_raw["cached"], their_raw["input"]))
        mine, other = _ours(ours_raw), _ours(their_raw)
        for field in CODEX_FIELDS:
            ours[field] += mine[field]
            theirs[field] += other[field]
        gap = {f: other[f] - mine[f] for f in CODEX_FIELDS}
        if any(gap.values()):
            cause = causes.setdefault(_CODEX_CAUSES[kind], dict.fromkeys(CODEX_FIELDS, 0))
            for field in CODEX_FIELDS:
                cause[field] += gap[field]
    return ours, theirs, causes


_CODEX_CAUSES = {
    "repeat": "@ccusage/codex adds last_token_usage of events whose cumulative total did "
              "not change (Codex writes each token_count twice); we add nothing for them",
    "first": "the first event's total is larger than its last_token_usage (history "
             "before this file); we count the total, @ccusage/codex the last request",
    "restart": "the total went down (counter restarted): we count the new total, "
               "@ccusage/codex the last request",
    "increase": "an increase of the total differs from that event's last_token_usage",
    "no-total": "an event without a total: both count last_token_usage (should not differ)",
}


def codex_layout(sample: Path, home: Path) -> Path:
    """Copy ``sample`` into ``home`` as Codex would have written it; return the copy."""
    records, _ = raw_lines(sample)
    stamp = next((r["timestamp"] for r in records if isinstance(r.get("timestamp"), str)),
                 "2026-01-01T00:00:00")
    name = sample.name[sample.name.find("rollout-"):] if "rollout-" in sample.name else None
    if name is None:
        meta = next((r["payload"] for r in records if r.get("type") == "session_meta"), {})
        session = meta.get("id") if isinstance(meta.get("id"), str) else "session"
        name = f"rollout-{stamp[:19].replace(':', '-')}-{session}.jsonl"
    return _copy(sample, home / "sessions" / stamp[:4] / stamp[5:7] / stamp[8:10] / name)


def compare_codex(sample: Path, work: Path, cache: Path) -> Comparison:
    """Compare one Codex rollout with @ccusage/codex."""
    home = work / ("codex-" + sample.stem)
    codex_layout(sample, home)
    report = npx(CCUSAGE_CODEX, {"CODEX_HOME": str(home)}, cache)
    totals = report.get("totals") or {}
    cached = totals.get("cachedInputTokens", 0)
    theirs = {"input": totals.get("inputTokens", 0) - cached, "cache_read": cached,
              "output": totals.get("outputTokens", 0),
              "reasoning": totals.get("reasoningOutputTokens", 0)}
    ours = our_totals("codex", {"CODEX_HOME": str(home)}, CODEX_FIELDS)
    records, complete = raw_lines(sample)
    our_rule, their_complete, causes = codex_rules(records[:complete])
    _, their_rule, _ = codex_rules(records)
    pending = None
    if complete < len(records):
        causes["the last line has no newline yet: @ccusage/codex reads it, we wait"] = {
            f: their_rule[f] - their_complete[f] for f in CODEX_FIELDS}
        after, _, _ = codex_rules(records)
        pending = {f: after[f] - our_rule[f] for f in CODEX_FIELDS}
    return Comparison("codex", sample.name, CODEX_FIELDS, ours, theirs, causes,
                      our_rule, their_rule, pending)


# --- report ---------------------------------------------------------------------------

def compare_all(samples: Path, work: Path, cache: Path) -> list[Comparison]:
    """Compare every Claude and Codex sample."""
    found = [compare_claude(p, work, cache) for p in sorted((samples / "claude").glob("*.jsonl"))]
    found += [compare_codex(p, work, cache) for p in sorted((samples / "codex").glob("*.jsonl"))]
    return found


def render(comparisons: list[Comparison]) -> str:
    """Return the comparison as text tables, one per tool, with a line per cause."""
    out = []
    titles = {"claude": f"Claude Code: ours vs {CCUSAGE} (daily --json --offline)",
              "codex": f"Codex: ours vs {CCUSAGE_CODEX} (daily --json --offline); "
                       "input excludes cached input on both sides"}
    for tool in ("claude", "codex"):
        rows = [c for c in comparisons if c.tool == tool]
        if not rows:
            continue
        out += ["", titles[tool], "-" * len(titles[tool])]
        out.append(f"{'file':<58} {'field':<11} {'ours':>11} {'theirs':>11} {'theirs-ours':>12}")
        for c in rows:
            label = _UUID.sub(lambda m: m.group(0)[:8] + "~", c.name.removesuffix(".jsonl"))
            for i, field in enumerate(c.fields):
                gap = c.theirs[field] - c.ours[field]
                out.append(f"{(label[:58] if i == 0 else ''):<58} {field:<11} "
                           f"{c.ours[field]:>11,} {c.theirs[field]:>11,} {gap:>+12,}")
            for cause, values in c.causes.items():
                shown = ", ".join(f"{f} {v:+,}" for f, v in values.items() if v)
                out.append(f"    why ({shown}): {cause}")
            if c.pending is not None:
                change = ", ".join(f"{f} {v:+,}" for f, v in c.pending.items() if v) or "none"
                out.append("    note: the last line has no newline yet, so it is not read; "
                           f"once it ends, our totals change by: {change}")
            left = c.unexplained()
            if left:
                out.append(f"    UNEXPLAINED: {left}")
            elif not c.causes:
                out.append("    equal on every field")
        total_ours = {f: sum(c.ours[f] for c in rows) for f in rows[0].fields}
        total_theirs = {f: sum(c.theirs[f] for c in rows) for f in rows[0].fields}
        for i, field in enumerate(rows[0].fields):
            gap = total_theirs[field] - total_ours[field]
            out.append(f"{('ALL FILES' if i == 0 else ''):<58} {field:<11} "
                       f"{total_ours[field]:>11,} {total_theirs[field]:>11,} {gap:>+12,}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print it; exit 1 when a difference is unexplained."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES,
                        help="Directory holding claude/ and codex/ sample files.")
    parser.add_argument("--npm-cache", type=Path, default=NPM_CACHE,
                        help="npm cache directory for the reference packages.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of tables.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thinkt-reference-") as work:
        try:
            comparisons = compare_all(args.samples, Path(work), args.npm_cache)
        except ReferenceUnavailable as exc:
            print(f"Error: {exc}.", file=sys.stderr)
            return 69
    if args.json:
        print(json.dumps([dict(dataclasses.asdict(c), unexplained=c.unexplained())
                          for c in comparisons], indent=2))
    else:
        print(render(comparisons))
    return 1 if any(c.unexplained() for c in comparisons) else 0


if __name__ == "__main__":
    sys.exit(main())
