"""Our Claude and Codex token totals against ccusage@18.0.11 and @ccusage/codex@18.0.11.

Runs bench/reference_usage.py's comparison (npx downloads the tools once into a cache
under the system temp dir). Skipped where npx is missing or the tools cannot be
installed. The reference numbers asserted below were first obtained by hand by running
each tool on each sample alone.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.node]

BENCH = Path(__file__).resolve().parents[3] / "bench" / "reference_usage.py"

# ccusage daily --json --offline, run by hand on each sample alone: output tokens.
CCUSAGE_OUTPUT = {
    "Mai0313-VibeCodingTracker__claude_code.jsonl": 2457,
    "entireio-cli__checkpoints-8e-ce5fc12e98-0__full.jsonl": 30,
    "entireio-cli__checkpoints-ca-fca7ea73ac-0__full.jsonl": 56,
    "marot-spotter__4d5611e5-241a-462a-8d15-5122611a9569__subagents__agent-a2898e3.jsonl": 136,
    "marot-spotter__4d5611e5-241a-462a-8d15-5122611a9569__subagents__agent-acompact-e1f845.jsonl":
        8,
    "marot-spotter__short.jsonl": 13,
    "marot-spotter__subagent.jsonl": 534,
    "marot-spotter__tool_heavy.jsonl": 64,
}
# Sum of last_token_usage over the token_count events whose total_token_usage equals the
# previous event's (jq over each rollout): (input incl. cached, cached, output, reasoning).
CODEX_REPEATED = {
    "madshn-localpush__rollout-2026-02-23T12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl":
        (7039419, 6672000, 35982, 17877),
    "madshn-localpush__rollout-2026-02-23T12-54-34-019c8a59-e9dd-71f0-9ae3-4079fe9726a9.jsonl":
        (33438462, 31255168, 131522, 42113),
}


@pytest.fixture(scope="module")
def reference(samples, tmp_path_factory):
    if shutil.which("npx") is None:
        pytest.skip("npx not found: node is needed to run ccusage")
    spec = importlib.util.spec_from_file_location("reference_usage", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    try:
        found = module.compare_all(samples, tmp_path_factory.mktemp("reference"),
                                   module.NPM_CACHE)
    except module.ReferenceUnavailable as exc:
        pytest.skip(f"reference tools unavailable: {exc}")
    return module, {(c.tool, c.name): c for c in found}


def test_every_sample_compared(reference, samples):
    _, found = reference
    assert {n for t, n in found if t == "claude"} == {
        p.name for p in (samples / "claude").glob("*.jsonl")}
    assert {n for t, n in found if t == "codex"} == {
        p.name for p in (samples / "codex").glob("*.jsonl")}


def test_claude_matches_ccusage_where_it_is_right(reference):
    _, found = reference
    for (tool, name), c in found.items():
        if tool != "claude":
            continue
        for field in ("input", "cache_read", "cache_write"):
            assert c.ours[field] == c.theirs[field], (name, field)
        assert c.theirs["output"] == CCUSAGE_OUTPUT[name]
        assert c.ours["output"] >= c.theirs["output"], name
        # Our output is the per-response maximum, recomputed from the raw lines.
        assert c.ours == c.our_rule, name
        # And we know ccusage's rule: replayed on the raw lines it gives its numbers.
        assert c.their_rule == c.theirs, name
        assert c.unexplained() == {}, name


def test_claude_output_difference_is_the_first_line_partial(reference):
    _, found = reference
    c = found[("claude", "entireio-cli__checkpoints-ca-fca7ea73ac-0__full.jsonl")]
    (cause, gap), = c.causes.items()
    assert "first line of each split response" in cause
    assert gap == {"input": 0, "cache_read": 0, "cache_write": 0, "output": 56 - 3359}
    assert c.pending == {"input": 0, "cache_read": 0, "cache_write": 0, "output": 294}


def test_codex_difference_is_the_repeated_events(reference):
    module, found = reference
    repeat_cause = module._CODEX_CAUSES["repeat"]
    for (tool, name), c in found.items():
        if tool != "codex":
            continue
        assert c.ours == c.our_rule, name
        assert c.their_rule == c.theirs, name
        assert c.unexplained() == {}, name
        if name in CODEX_REPEATED:
            full, cached, output, reasoning = CODEX_REPEATED[name]
            assert c.causes == {repeat_cause: {"input": full - cached, "cache_read": cached,
                                               "output": output, "reasoning": reasoning}}
        else:
            assert c.causes == {} and c.ours == c.theirs, name
