"""The collector's price table: what an entry's tokens cost in USD, offline.

Prices come from the operator's overrides (``[collector.prices."<model>"]`` in the config
file) and otherwise from the table that ships inside the genai-prices package. Nothing
here reaches the network: we build our own catalogue from the package's bundled data and
never use ``genai_prices.calc_price`` (which prefers a snapshot that ``UpdatePrices``
fetches from GitHub, should anything in the process start one). A model we cannot price
gives ``None`` ("unpriced"), never $0.

Our token fields mean the same thing for every source, because each exporter parser
normalises its assistant's counts (SOURCES.md, "Tokens are counted once"): ``input``
excludes cache reads and writes, ``output`` includes reasoning, and ``reasoning`` says
how much of the output was reasoning. What each assistant writes, and what we made of it
(checked against ``thinkt/exporter/sources/*.py``):

======== ============================================== ==========================================
source   the assistant writes                           our fields
======== ============================================== ==========================================
claude   usage.input_tokens (no cache), output_tokens,  input, output, cache_read, cache_write
         cache_read_input_tokens,                       as written (5m and 1h writes summed)
         cache_creation_input_tokens
codex    input_tokens (includes cached_input_tokens),   input = input - cached; cache_read =
         output_tokens (includes reasoning_output_...)  cached; output as written; reasoning
gemini   tokens.input (includes cached), output,        input = input - cached + tool;
         thoughts (apart from output), tool             output = output + thoughts
qwen     promptTokenCount (includes cachedContent...),  input = prompt - cached; output =
         candidates, thoughts (apart or within,         candidates (+ thoughts where apart)
         by backend; the total tells)
kimi     inputOther (no cache), inputCacheRead,         input, cache_read, cache_write, output
         inputCacheCreation, output                     as written
copilot  per session: inputTokens (includes             input = inputTokens - cacheReadTokens;
         cacheReadTokens), cacheWriteTokens,            per message: output only
         outputTokens, reasoningTokens
======== ============================================== ==========================================

So one mapping serves every source. In genai-prices' terms (``Usage``) it is
``input_tokens = input + cache_read + cache_write`` (its input *includes* cache reads
and writes), ``cache_read_tokens = cache_read``, ``cache_write_tokens = cache_write``,
``output_tokens = output``; reasoning is never added to output again (see ``usage()``).

How a row is priced (``Price.charge``), the way genai-prices >= 0.1 and the providers do:
each kind of token at its price per million; a model the table gives no cache-read or
cache-write price bills those tokens as input; a long-context tier (Claude, Gemini, GPT
above 200k prompt tokens) prices the *whole* response at the tier its prompt
(input + cache) reaches. That threshold is per API response, so a row is priced alone,
and Copilot rows never get tiers: its token row is a whole session's total. Prices that
change by date are taken at noon UTC of the row's day (noon keeps DeepSeek's off-peak
hours out). Not priced, because our entries do not count them: web searches, per-request
fees, audio/image tokens, and Claude's dearer 1-hour cache writes (our ``cache_write``
sums both lifetimes, so 1-hour writes are priced as 5-minute ones).

Which table model: the source's provider first (``PROVIDERS``: claude -> anthropic,
codex -> openai, gemini -> google, kimi -> moonshotai, copilot -> github-copilot, whose
rates are GitHub's; qwen has no first-party provider in the table), then the model name
alone (genai-prices' own rules, e.g. a Copilot ``claude-sonnet-4.5`` falls back to
Anthropic's price), then both again with a ``vendor/`` prefix dropped
(``moonshot-ai/kimi-k2.7-code``). ``None``, ``""`` and placeholders such as
``<synthetic>`` (Claude Code's local messages) are unpriced. A table model listed with no
price at all (Copilot's included models, ``:free`` ones) costs $0, as the table says.

Overrides win over the table on every day (they carry no date). A key matches a model
name case-insensitively, with ``.`` and ``-`` alike (Copilot writes ``claude-sonnet-4.6``,
Anthropic ``claude-sonnet-4-6``), either exactly or followed by a dated-snapshot suffix
(``-20250929``, ``-2025-09-29``, ``@20250929``, ``-latest``); the exact key wins. No
looser prefix: ``gpt-5`` must not price ``gpt-5-mini``, nor ``claude-sonnet-4`` price
``claude-sonnet-4-5``.

Why genai-prices: it keeps the data inside the wheel (about 3 MB, plus pydantic and an
HTTP client it imports but we never call), prices cache reads and writes apart, and has
dated prices and long-context tiers. litellm's price JSON comes with the whole gateway
(openai, tiktoken, aiohttp, jinja2, ...) and fetches the JSON from GitHub at import
unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is set; it has cache prices but no dates.
tokencost fetches litellm's JSON over the network at import (the bundled copy is only a
fallback), prices prompt/completion strings, and has no dates. Note: genai-prices 0.2
needs Python 3.11, so Python 3.10 gets 0.1.x; 0.0.x priced tiers progressively and cache
tokens without a price as free, which is why the arithmetic is ours, not the package's.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import re
from typing import Any, Mapping

from thinkt.status import ConfigError

log = logging.getLogger(__name__)

#: genai-prices provider id for each source whose assistant talks to one vendor.
PROVIDERS = {"claude": "anthropic", "codex": "openai", "gemini": "google",
             "kimi": "moonshotai", "copilot": "github-copilot"}

# Sources whose token rows add up several API responses: a long-context tier (chosen by
# one response's prompt size) would be wrongly applied to the sum.
_SUMMED = frozenset({"copilot"})

_NOON_UTC = datetime.time(12, tzinfo=datetime.timezone.utc)
_DATED = re.compile(r"(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2})|-latest)$")
_REQUIRED = ("input", "output", "cache_read", "cache_write")
_TABLE_KEYS = {"input": "input_mtok", "output": "output_mtok", "cache_read": "cache_read_mtok",
               "cache_write": "cache_write_mtok", "reasoning": "output_reasoning_mtok"}
_HINT = ('Give each model input, output, cache_read and cache_write in USD per million tokens, '
         'e.g. [collector.prices."claude-sonnet-4-5"] input = 3, output = 15, '
         'cache_read = 0.3, cache_write = 3.75.')

# A bound on the (model, source, day) cache, far above what a store holds (a few dozen
# models times a few sources times the days kept), so a long-lived worker cannot grow.
_CACHE_LIMIT = 200_000


@dataclasses.dataclass(frozen=True)
class Tokens:
    """One row's token counts, as our entries carry them (see the module docstring)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclasses.dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind, for one model on one day."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: float | None = None  # None: reasoning is output and costs what output costs
    # (prompt tokens above which, the price then), ascending; from the table only.
    tiers: tuple[tuple[int, Price], ...] = ()

    def charge(self, tokens: Tokens, *, tiered: bool = True) -> float:
        """Return what one API response's ``tokens`` cost at this price, in USD."""
        price = self
        if tiered and self.tiers:
            prompt = tokens.input + tokens.cache_read + tokens.cache_write
            for start, above in reversed(self.tiers):
                if prompt > start:
                    price = above
                    break
        output = price.output * tokens.output
        if price.reasoning is not None:
            output += (price.reasoning - price.output) * min(tokens.reasoning, tokens.output)
        return (price.input * tokens.input + price.cache_read * tokens.cache_read
                + price.cache_write * tokens.cache_write + output) / 1_000_000


def usage(tokens: Tokens) -> dict[str, int]:
    """Return ``tokens`` as genai-prices ``Usage`` keyword arguments."""
    return {"input_tokens": tokens.input + tokens.cache_read + tokens.cache_write,
            "cache_read_tokens": tokens.cache_read, "cache_write_tokens": tokens.cache_write,
            "output_tokens": tokens.output}


class PriceTable:
    """Prices by (model, source, day): the operator's overrides, then genai-prices' table."""

    def __init__(self, overrides: Mapping[str, Price] | None = None):
        self._overrides = {_override_key(name): price for name, price in (overrides or {}).items()}
        self._models: dict[tuple[str, str | None], Any] = {}  # -> genai-prices ModelInfo | None
        self._prices: dict[tuple[Any, Any, datetime.date], Price | None] = {}
        # Converted table prices by the id of genai-prices' ModelPrice, which we keep (so
        # the id cannot be reused): most days of a model share one ModelPrice.
        self._converted: dict[int, tuple[Any, Price | None]] = {}

    def price(self, model: str | None, source: str | None, day: datetime.date) -> Price | None:
        """Return the price of ``model`` on ``day`` (a UTC date), or None when unpriced."""
        if type(day) is not datetime.date:
            day = _utc_day(day)
        key = (model, source, day)
        # Measured on this project's 2-core machine with genai-prices 0.2.5: cost() of
        # one model on 10,000 distinct days takes 50-65 ms, 100,000 cost() calls that hit
        # this cache about 0.2 s (2 us a row, most of it Price.charge). The first lookup
        # of a process also loads the package's data: 0.3-0.4 s.
        try:
            return self._prices[key]
        except KeyError:
            pass
        if len(self._prices) >= _CACHE_LIMIT:
            self._prices.clear()
            self._converted.clear()
        found = self._prices[key] = self._find(model, source, day)
        return found

    def cost(self, model: str | None, source: str | None, day: datetime.date,
             tokens: Tokens) -> float | None:
        """USD, or None when the model has no price (unknown model, no model, a table error)."""
        price = self.price(model, source, day)
        if price is None:
            return None
        return price.charge(tokens, tiered=source not in _SUMMED)

    def priced(self, model: str | None, source: str | None, day: datetime.date) -> bool:
        """Tell whether ``model`` has a price on ``day``."""
        return self.price(model, source, day) is not None

    def _find(self, model: Any, source: Any, day: datetime.date) -> Price | None:
        name = model.strip().lower() if isinstance(model, str) else ""
        if not name or name.startswith("<"):
            return None
        override = self._override(name)
        if override is not None:
            return override
        try:
            info = self._model(name, source)
            if info is None:
                return None
            model_price = info.get_prices(datetime.datetime.combine(day, _NOON_UTC))
            known = self._converted.get(id(model_price))
            if known is None or known[0] is not model_price:
                known = self._converted[id(model_price)] = (model_price, _table_price(model_price))
            return known[1]
        except Exception as exc:  # a bad row in the table must not fail the usage page
            log.warning("no price for model %r: the price table failed: %s", name, exc)
            return None

    def _override(self, name: str) -> Price | None:
        if not self._overrides:
            return None
        for ref in _refs(name):
            key = _override_key(ref)
            price = self._overrides.get(key)
            if price is None and _DATED.search(key):
                price = self._overrides.get(_DATED.sub("", key))
            if price is not None:
                return price
        return None

    def _model(self, name: str, source: Any) -> Any:
        hint = PROVIDERS.get(source.lower()) if isinstance(source, str) else None
        key = (name, hint)
        if key in self._models:
            return self._models[key]
        catalog = _catalog()
        found = None
        for ref in _refs(name) if catalog is not None else ():
            for provider_id in dict.fromkeys((hint, None)):
                try:
                    found = catalog.find_provider_model(ref, None, provider_id, None)[1]
                except LookupError:
                    continue
                break
            if found is not None:
                break
        self._models[key] = found
        return found


def parse_overrides(table: Mapping[str, Any]) -> dict[str, Price]:
    """Return the config file's ``[collector.prices]`` table as prices by model name.

    :raises ConfigError: a model's entry is not a table of known, non-negative numbers.
    """
    if not isinstance(table, Mapping):
        raise ConfigError("collector.prices must be a table of models", hint=_HINT)
    prices: dict[str, Price] = {}
    seen: dict[str, str] = {}
    for name, fields in table.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("collector.prices has an empty model name", hint=_HINT)
        where = f'collector.prices."{name}"'
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{where} must be a table of prices, not {fields!r}", hint=_HINT)
        unknown = sorted(set(fields) - set(_TABLE_KEYS))
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}", hint=_HINT)
        missing = [key for key in _REQUIRED if key not in fields]
        if missing:
            raise ConfigError(f"{where} has no {missing[0]}", hint=_HINT)
        key = _override_key(name)
        if key in seen:
            raise ConfigError(f'{where} and collector.prices."{seen[key]}" name the same model',
                              hint="Keep one of them.")
        seen[key] = name
        prices[name] = Price(**{field: _usd(where, field, value)
                                for field, value in fields.items()})
    return prices


def _usd(where: str, field: str, value: Any) -> float:
    # bool is an int to Python, but "input = true" is a mistake, not a price of $1.
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: {field} must be a number of USD per million tokens "
                          f"(0 or more), not {value!r}", hint=_HINT)
    return float(value)


def _override_key(name: str) -> str:
    return name.strip().lower().replace(".", "-")


def _refs(name: str) -> tuple[str, ...]:
    """Return the names to look ``name`` up by: itself, then without a ``vendor/`` prefix."""
    bare = name.rsplit("/", 1)[-1]
    return (name, bare) if bare and bare != name else (name,)


def _utc_day(day: Any) -> datetime.date:
    if isinstance(day, datetime.datetime):
        if day.tzinfo is not None:
            day = day.astimezone(datetime.timezone.utc)
        return day.date()
    return day


def preload() -> bool:
    """Load the package's price data now; True when it is there.

    The collector calls this before gunicorn forks its workers: each worker then shares
    the loaded table instead of spending 0.3-0.4 s on its first usage request.
    """
    return _catalog() is not None


@functools.cache
def _catalog() -> Any:
    """Return a genai-prices catalogue of the package's bundled data (None without the package)."""
    try:
        from genai_prices.data import providers
        from genai_prices.data_snapshot import DataSnapshot
    except ImportError as exc:
        log.error("genai-prices is not installed (%s): only the configured prices apply", exc)
        return None
    # Our own snapshot, never get_snapshot(): that one is replaced by whatever an
    # UpdatePrices thread downloads, and the collector must price the same offline.
    return DataSnapshot(providers=providers, from_auto_update=False)


def _table_price(model_price: Any) -> Price | None:
    """Convert a genai-prices ``ModelPrice`` into our ``Price`` (None: no token prices)."""
    values = {field: getattr(model_price, key, None) for field, key in _TABLE_KEYS.items()}
    if all(value is None for value in values.values()):
        # Listed with no price at all means free or included in a plan (Copilot's gpt-4.1);
        # priced only in units we do not count (audio hours, pages) means unpriced.
        listed = any(value is not None for value in vars(model_price).values())
        return None if listed else Price(0.0, 0.0, 0.0, 0.0)
    starts = sorted({tier.start for value in values.values()
                     for tier in getattr(value, "tiers", ())})
    tiers = tuple((start, _price_at(values, start)) for start in starts)
    return dataclasses.replace(_price_at(values, -1), tiers=tiers)


def _price_at(values: dict[str, Any], prompt: int) -> Price:
    """Return the flat price that applies once the prompt is above ``prompt`` tokens."""
    rates: dict[str, float | None] = {}
    for field, value in values.items():
        if hasattr(value, "tiers"):  # a TieredPrices: the highest tier the prompt is above
            reached = [tier for tier in value.tiers if tier.start <= prompt]
            value = max(reached, key=lambda tier: tier.start).price if reached else value.base
        rates[field] = None if value is None else float(value)
    input_rate = rates["input"] or 0.0
    # Tokens of a kind the table gives no price bill as input (genai-prices >= 0.1 too).
    return Price(input=input_rate, output=rates["output"] or 0.0,
                 cache_read=input_rate if rates["cache_read"] is None else rates["cache_read"],
                 cache_write=input_rate if rates["cache_write"] is None else rates["cache_write"],
                 reasoning=rates["reasoning"])
