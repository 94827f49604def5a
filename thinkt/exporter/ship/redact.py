"""Redaction: the secret-finding rules and the Redactor that masks them in entry text.

Every rule is high precision (a key's own shape, or a secret-looking name beside the
value) and replaces what it finds with ``[REDACTED:<rule>]``. A rule's regex only
runs when one of its substring triggers is in the text, and one scan finds whether any
is, so ordinary text costs that one pass. Only counts per rule are kept: the secret is
never logged or stored.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from typing import Iterable

log = logging.getLogger(__name__)

MARK = "[REDACTED:{}]"

#: Values of secret-named keys that are clearly not secrets (examples, templates).
_PLACEHOLDER_WORDS = frozenset({
    "changeme", "change_me", "change-me", "password", "passwd", "secret", "token",
    "example", "placeholder", "redacted", "none", "null", "nil", "true", "false",
    "yes", "no", "test", "dummy", "todo", "tbd", "xxx", "required", "optional",
    "undefined", "empty", "string", "str", "bearer", "basic",
})
_PLACEHOLDER = re.compile(
    r"""^(?:
        \$\{[^}]*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|   # ${VAR}, $(cmd), $VAR
        \{\{?[^}]*\}\}?|<[^>]*>|%\([^)]*\)s|%s|         # {var}, {{var}}, <your key>, %s
        \[REDACTED:[^\]]*\]|                            # already masked by another rule
        [*xX.#_-]+|                                     # ****, xxxx, ...
        \d+|                                            # numbers (limits, lengths, ports)
        (?:your|my|the|some|enter|insert|put)[-_ ].*    # your-api-key, my_token
    )$""", re.VERBOSE | re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """True when ``value`` is obviously not a real secret (empty, ``${VAR}``, ``<...>``, ...)."""
    stripped = value.strip()
    return (len(stripped) < 4 or stripped.lower() in _PLACEHOLDER_WORDS
            or _PLACEHOLDER.match(stripped) is not None)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One kind of secret: a regex, the substrings that must be present for it to run.

    The named group ``secret`` (or ``bare``, an unquoted value, when ``secret`` did not
    take part) is what gets replaced, the rest of the match (a key name, a URL's user
    and host) stays; a regex without ``secret`` has its whole match replaced.
    """

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()  # empty: always run
    keep_placeholders: bool = False  # True: skip values that are clearly placeholders
    hint: re.Pattern[str] | None = None  # a cheaper regex that must match first

    def hit(self, text: str, present: set[str] | None = None) -> bool:
        """True when the regex is worth running on ``text`` (``present``: triggers found)."""
        if self.triggers:
            if present is None:
                if not any(t in text for t in self.triggers):
                    return False
            elif present.isdisjoint(self.triggers):
                return False
        return self.hint is None or self.hint.search(text) is not None

    def apply(self, text: str) -> tuple[str, int]:
        """Return ``text`` with every match masked, and how many were masked."""
        mark = MARK.format(self.name)
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            if "secret" not in self.pattern.groupindex:
                count += 1
                return mark
            group = "secret"
            if match.group(group) is None and "bare" in self.pattern.groupindex:
                group = "bare"  # an unquoted value
            secret = match.group(group)
            if secret is None or (self.keep_placeholders and is_placeholder(secret)):
                return match.group(0)
            count += 1
            start, end = match.span(group)
            whole = match.group(0)
            offset = match.start()
            return whole[:start - offset] + mark + whole[end - offset:]

        return self.pattern.sub(replace, text), count


# Key names of .env-style lines whose value is a secret: a whole underscore-separated
# word (MAX_TOKENS and TOKEN_COUNT_LIMIT's "TOKENS"/"COUNT" are not), or a two-word pair.
_SECRET_WORD = r"(?:PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|APIKEY|CREDENTIALS?|DSN)"
_SECRET_PAIR = r"(?:(?:API|PRIVATE|ACCESS|SECRET|AUTH|ENCRYPTION|SIGNING|MASTER|CLIENT)_KEY)"
_ENV_KEY = (rf"(?:[A-Z0-9]+_)*(?:{_SECRET_WORD}|{_SECRET_PAIR})(?:_[A-Z0-9]+)*")
# A line starts at the start of the text, after a newline, or, in a tool call's JSON,
# after an escaped "\n" or the quote opening a string; file reads may prefix it with
# a line number ("  12\t" or "12→").
_LINE_START = r"(?:^|(?<=\\n)|(?<=\"))[ \t]*(?:\d+(?:\t|\u2192))?[ \t]*(?:export[ \t]+)?"
# The value: quoted (quotes possibly JSON-escaped), or a bare word up to the line's end.
_ENV_VALUE = (r"(?:(?P<q>\\?[\"'])(?P<secret>[^\"'\\\n]*)(?P=q)"
              r"|(?P<bare>[^\s\"'#\\]+))"
              # ... then the line ends (or the JSON string holding it: a quote, then , } ])
              r"(?=[ \t]*(?:\#[^\n]*)?(?:$|\\[nr]|\"(?=[,}\]]|$)))")

_B64URL = r"[A-Za-z0-9_\-]"
_SHAPE_RANDOM = r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Z])(?=[A-Za-z0-9_\-]*[a-z])"
_PEM_LABEL = r"-----(?:BEGIN|END) (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"


def _env_rule() -> Rule:
    pattern = re.compile(_LINE_START + rf"(?P<key>{_ENV_KEY})[ \t]*=[ \t]*" + _ENV_VALUE,
                         re.MULTILINE)
    triggers = ("PASS", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "DSN")
    hint = re.compile(r"(?:PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|DSN)[A-Z0-9_]*[ \t]*=")
    return Rule("env_secret", pattern, triggers, keep_placeholders=True, hint=hint)


def _shape(name: str, regex: str, *triggers: str) -> Rule:
    """A rule for a secret recognised by its own shape (the whole match is masked)."""
    return Rule(name, re.compile(regex), triggers)


#: The built-in rules, in the order they run: specific shapes before the generic
#: key=value rules, so ``GITHUB_TOKEN=ghp_...`` is counted as a GitHub token.
BUILTIN: tuple[Rule, ...] = (
    Rule("private_key", re.compile(
        rf"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        # a real body follows (base64, or the headers of an encrypted key) ...
        # (a file read may number its lines: digits and a tab or an arrow before each)
        r"(?=(?:\s|\\[nrt]|\d|\u2192)*(?:Proc-Type:|[A-Za-z0-9+/=]{40}))"
        # ... up to its END line, or to the end of what is there (a cut tool output)
        rf"(?:.{{0,65536}}?{_PEM_LABEL}|(?:[A-Za-z0-9+/=:,\-\s\u2192]|\\[nrt])*)", re.DOTALL),
        ("PRIVATE KEY",)),
    _shape("aws_access_key", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
           "AKIA", "ASIA"),
    Rule("aws_secret_key", re.compile(
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"'\\]*[ \t]*[:=][ \t]*"
        r"[\"'\\]*(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
        ("secret", "SECRET", "Secret")),
    _shape("github_token", r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}"
           r"|github_pat_[A-Za-z0-9_]{60,251})(?![A-Za-z0-9_])",
           "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    _shape("gitlab_token", r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}", "glpat-"),
    _shape("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
           r"[A-Za-z0-9_/\-]{20,}", "hooks.slack.com"),
    _shape("slack_token", r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,}", "xox"),
    _shape("anthropic_key", rf"(?<![A-Za-z0-9])sk-ant-{_B64URL}{{20,}}", "sk-ant-"),
    _shape("openai_key", rf"(?<![A-Za-z0-9_\-])sk-(?:proj-|svcacct-|admin-)?{_SHAPE_RANDOM}"
           rf"{_B64URL}{{20,}}", "sk-"),
    _shape("google_api_key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])",
           "AIza"),
    _shape("jwt", rf"(?<![A-Za-z0-9_\-])eyJ{_B64URL}{{10,}}\.{_B64URL}{{10,}}\.{_B64URL}{{10,}}",
           "eyJ"),
    # "://" first: a literal start lets the regex engine skip ahead; the scheme is
    # checked behind it.
    Rule("url_password", re.compile(
        r"://(?<=[A-Za-z0-9]://)[^\s:/@'\"\\<>]{1,128}:"
        r"(?P<secret>[^\s/@'\"\\<>]{1,256})@(?=[A-Za-z0-9\[])"),
        ("://",), keep_placeholders=True, hint=re.compile(r"@")),
    _env_rule(),
)
NAMES: tuple[str, ...] = tuple(rule.name for rule in BUILTIN)


def parse_extra(spec: str) -> Rule:
    """Return the rule of a ``name=regex`` setting (group ``secret``, if any, is what is masked).

    :raises ValueError: no ``=``, a name that is not a plain word, or a bad regex.
    """
    name, sep, regex = spec.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_]+", name) or not regex:
        raise ValueError(f"{spec[:40]!r} is not NAME=REGEX (NAME a plain word)")
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"rule {name}: bad regex: {exc}") from None
    if pattern.match(""):
        raise ValueError(f"rule {name}: the regex matches empty text")
    return Rule(name, pattern)


def _trie_regex(words: Iterable[str]) -> str:
    """Return a regex matching any of ``words``, longest first, shaped as a trie.

    Shared prefixes are tried once (``A(?:KIA|SIA|Iza)``), which makes the one scan
    over every text about a quarter faster than a flat alternation.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(node[char]) for char in sorted(node) if char]
        if not branches:
            return ""
        ends_here = "" in node
        body = (branches[0] if len(branches) == 1 and not ends_here
                else "(?:" + "|".join(branches) + ")")
        return body + ("?" if ends_here else "")

    return build(trie)


class Redactor:
    """Masks secrets in text with the enabled rules and counts what it masked, per rule."""

    def __init__(self, rules: Iterable[Rule] = BUILTIN):
        self.rules = tuple(rules)
        # One scan finds which triggers occur; most texts contain none and stop there.
        triggers = {t for rule in self.rules for t in rule.triggers}
        self._always = any(not rule.triggers for rule in self.rules)
        self._triggers = re.compile(_trie_regex(triggers)) if triggers else None
        self._trigger_words = tuple(sorted(triggers))
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}

    @classmethod
    def from_settings(cls, disable: Iterable[str] = (), extra: Iterable[str] = ()) -> "Redactor":
        """Build the redactor of the config: built-ins minus ``disable``, plus ``extra`` rules.

        :raises ValueError: an unknown rule name in ``disable`` or a bad ``extra`` rule.
        """
        extras = [parse_extra(spec) for spec in extra]
        known = set(NAMES) | {rule.name for rule in extras}
        off = set(disable)
        unknown = sorted(off - known)
        if unknown:
            raise ValueError(f"unknown redaction rule {unknown[0]!r} (rules: {', '.join(NAMES)})")
        return cls([r for r in (*BUILTIN, *extras) if r.name not in off])

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with secrets masked and the number masked per rule (only hits)."""
        counts: dict[str, int] = {}
        present: set[str] = set()
        if self._triggers is not None and self._triggers.search(text) is not None:
            # Rare (a few percent of texts): now find exactly which triggers are there.
            present = {word for word in self._trigger_words if word in text}
        if not present and not self._always:
            return text, counts
        for rule in self.rules:
            if rule.hit(text, present):
                text, found = rule.apply(text)
                if found:
                    counts[rule.name] = counts.get(rule.name, 0) + found
        if counts:
            with self._lock:
                for name, found in counts.items():
                    self._totals[name] = self._totals.get(name, 0) + found
        return text, counts

    def totals(self) -> dict[str, int]:
        """Return how many secrets each rule masked since this redactor was made."""
        with self._lock:
            return dict(sorted(self._totals.items()))


def redact_entries(entries: list[dict], redactor: Redactor | None,
                   metadata_only: bool) -> dict[str, int]:
    """Mask (or, ``metadata_only``, drop) the ``text`` of wire entries in place; return counts."""
    counts: dict[str, int] = {}
    for wire in entries:
        if metadata_only:
            wire.pop("text", None)
        elif redactor is not None and "text" in wire:
            wire["text"], found = redactor.redact(wire["text"])
            for name, value in found.items():
                counts[name] = counts.get(name, 0) + value
    return counts


