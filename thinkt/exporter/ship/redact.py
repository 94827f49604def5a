"""Redaction: the secret-finding rules and the Redactor that masks them in entry text.

Two sets of rules, each of them high precision (a key's own shape, or a secret-looking
name beside the value). The hand-written ones know this context: tool calls' JSON
escapes, numbered file reads, ``.env`` lines, ``NAME=value`` anywhere in a line. The
others are gitleaks' rules for some 200 kinds of provider keys, read from its own rule
file (:mod:`thinkt.exporter.ship.gitleaks`) and translated to Python regexes. Each
replaces what it finds with ``[REDACTED:<rule>]``. A rule's regex only runs when one of
its trigger words is in the text (in any case), and one scan finds which are, so
ordinary text costs that one pass. Only counts per rule are kept: the secret is never
logged or stored.
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
import functools
import logging
import math
import re
import threading
from typing import Callable, Iterable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

try:  # the exporter extra: one pass finds every trigger word, in compiled code
    import ahocorasick_rs
except ModuleNotFoundError:  # slower, same result: a regex
    ahocorasick_rs = None

from thinkt.exporter.ship import gitleaks

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


# What a value beside a secret-ish name in the middle of a line must not be: code (a
# dotted name, a reference to the environment), a path, a URL or a file name.
_NOT_SECRET = re.compile(
    r"""^(?:.*\s.*|                                     # prose: "Enter the password"
        [A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+|        # settings.SECRET_KEY, self.token
        (?:[~.]{0,2}/|[A-Za-z]:\\).*|.*://.*|           # /etc/x, ~/.ssh/id, C:\, URLs
        [\w.-]+\.(?:json|ya?ml|txt|pem|key|env|toml|ini|cfg|conf|p12|pfx|crt|gpg)
    )$""", re.VERBOSE)
_SYMBOL_OR_DIGIT = re.compile(r"[0-9!#$%&*+=?@^~]")


def looks_secret(value: str) -> bool:
    """True when a value beside a secret-ish name looks like a secret, not code or prose.

    It has at least 8 characters, no blank, a digit or a symbol (letters alone are
    names: TopSecretName, django-insecure-change-me), and is not a placeholder, a
    dotted name, a path, a URL or a file name.
    """
    return (len(value) >= 8 and _SYMBOL_OR_DIGIT.search(value) is not None
            and not is_placeholder(value) and _NOT_SECRET.match(value) is None)


def shannon_entropy(value: str) -> float:
    """Return the Shannon entropy of ``value``, in bits per character (as gitleaks does)."""
    size = len(value)
    return -sum(n / size * math.log2(n / size)
                for n in collections.Counter(value).values()) if size else 0.0


@dataclasses.dataclass(frozen=True)
class Rule:
    """One kind of secret: a regex, the words that must be present for it to run.

    The named group ``secret`` (or ``bare``, an unquoted value, when ``secret`` did not
    take part) is what gets replaced, the rest of the match (a key name, a URL's user
    and host) stays; a regex without ``secret`` has its whole match replaced. Trigger
    words are lower case and found in any case.
    """

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()  # empty: always run
    keep_placeholders: bool = False  # True: skip values that are clearly placeholders
    hint: re.Pattern[str] | None = None  # a cheaper regex that must match first
    accept: Callable[[str], bool] | None = None  # False for a value: leave it alone

    def hit(self, text: str, present: set[str] | None = None) -> bool:
        """True when the regex is worth running on ``text`` (``present``: triggers found)."""
        if self.triggers:
            if present is None:
                lowered = text.lower()
                if not any(t in lowered for t in self.triggers):
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
            if (secret is None or (self.keep_placeholders and is_placeholder(secret))
                    or (self.accept is not None and not self.accept(secret))):
                return match.group(0)
            count += 1
            return _masked(match, match.span(group), mark)

        return self.pattern.sub(replace, text), count


def _masked(match: re.Match[str], span: tuple[int, int], mark: str) -> str:
    """Return the text of ``match`` with ``span`` (positions in the whole text) replaced."""
    whole, offset = match.group(0), match.start()
    return whole[:span[0] - offset] + mark + whole[span[1] - offset:]


@dataclasses.dataclass(frozen=True)
class Allowlist:
    """A gitleaks allowlist: a finding it matches is not a secret (an example, a variable).

    ``target`` says what the regexes look at (the secret, the whole match or its line);
    stopwords are looked for in the secret. ``every`` is gitleaks' ``condition = "AND"``.
    """

    target: str = "secret"
    regexes: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()
    every: bool = False

    def allows(self, secret: str, match: re.Match[str]) -> bool:
        """True when this list lets the finding ``match`` (secret ``secret``) through."""
        if self.target == "secret":
            value = secret
        elif self.target == "match":
            value = match.group(0)
        else:  # the line
            text, start, end = match.string, match.start(), match.end()
            line_end = text.find("\n", end)
            value = text[text.rfind("\n", 0, start) + 1:None if line_end < 0 else line_end]
        checks = []
        if self.regexes:
            checks.append(any(regex.search(value) for regex in self.regexes))
        if self.stopwords:
            lowered = secret.lower()
            checks.append(any(word in lowered for word in self.stopwords))
        return all(checks) if self.every else any(checks)


@dataclasses.dataclass(frozen=True)
class GitleaksRule(Rule):
    """A gitleaks rule: its secret is the first group that took part (or ``group``).

    As in gitleaks, a secret with no more entropy than ``entropy`` bits per character,
    or one an allowlist matches, is left alone.
    """

    entropy: float = 0.0
    group: int = 0
    allowlists: tuple[Allowlist, ...] = ()

    def apply(self, text: str) -> tuple[str, int]:
        """Return ``text`` with every match masked, and how many were masked."""
        mark = MARK.format(self.name)
        count = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            span = match.span(self.group)
            if not self.group:
                span = next((match.span(n) for n in range(1, self.pattern.groups + 1)
                             if match.group(n)), span)
            secret = match.string[span[0]:span[1]]
            if ((self.entropy and shannon_entropy(secret) <= self.entropy)
                    or any(allow.allows(secret, match) for allow in self.allowlists)):
                return match.group(0)
            count += 1
            return _masked(match, span, mark)

        return self.pattern.sub(replace, text), count


@dataclasses.dataclass(frozen=True)
class KeywordRule(Rule):
    """``name = value``, ``name: value`` or ``"name": "value"`` anywhere in a line.

    ``pattern`` finds, in the lower-cased text, a name's last word and the separator
    after it; ``name_start`` then checks, in the text itself, that the word starts a
    name or a camelCase part of one, and ``value`` reads the value after the separator.
    """

    name_start: re.Pattern[str] | None = None
    value: re.Pattern[str] | None = None

    def apply(self, text: str) -> tuple[str, int]:
        """Return ``text`` with every value that :func:`looks_secret` masked, and how many."""
        assert self.name_start is not None and self.value is not None
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters change length when lower-cased
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        spans = []
        for found in self.pattern.finditer(lowered):
            word_start = found.start()
            if found.group(1) == "pass" and not _AFTER_WORD.match(lowered, word_start):
                continue  # "pass" alone names nothing ("--- PASS: TestX"); DB_PASS does
            if found.group(1) == "key":
                pair = _KEY_PAIR.search(lowered, max(0, word_start - 12), word_start)
                if pair is None:
                    continue
                word_start = pair.start()
            if not self.name_start.match(text, word_start):
                continue
            value = self.value.match(text, found.end())
            if value is None:
                continue
            group = "secret" if value.group("secret") is not None else "bare"
            span = value.span(group)
            if (self.accept is None or self.accept(value.group(group))) and (
                    not spans or span[0] >= spans[-1][1]):
                spans.append(span)
        if not spans:
            return text, 0
        mark = MARK.format(self.name)
        pieces, at = [], 0
        for start, end in spans:
            pieces += [text[at:start], mark]
            at = end
        pieces.append(text[at:])
        return "".join(pieces), len(spans)


# -- the hand-written rules --------------------------------------------------------------

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

# The last word of a secret-ish name, lower-cased (KeywordRule.pattern looks for it in
# the lower-cased text), then the closing quote of a JSON or dict key and a separator.
_KEY_WORD = r"(key|pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|dsn)"
_KEY_SEPARATOR = r"(?:\\?[\"'])?[ \t]*(?::=|=>|=(?![=>~])|:(?![:/\\]))[ \t]*"
_AFTER_WORD = re.compile(r"(?<=[a-z0-9_-])")
# A key is secret-ish only as one of these pairs (API_KEY, privateKey, x-api-key).
_KEY_PAIR = re.compile(r"(?:api|access|private|secret|auth|client|signing|encryption|master)"
                       r"[_-]?\Z")
# Where the name's last word starts: at the start of a name (after no letter or digit:
# DB_PASSWORD, x-api-key, "token") or at a camelCase hump (dbPassword, accessToken).
_NAME_START = (r"(?:(?<![A-Za-z0-9])|(?<=[a-z0-9])(?=[A-Z][a-z]))")
# The value: quoted, or a bare word that ends where code would not go on with ( [ {.
# The bare word is taken whole in a lookahead and matched again: a lookahead does not
# backtrack, so "api_key=api_key=..." costs each name one pass, not 256.
_KEY_VALUE = (r"(?:(?P<q>\\?[\"'`])(?P<secret>[^\"'`\\\n]{1,256})(?P=q)"
              r"|(?=(?P<bare>[^\s\"'`\\,;&|<>(){}\[\]]{1,256}))(?P=bare)"
              r"(?=[\s\"'`\\,;&|<>)}\]]|$))")

_B64URL = r"[A-Za-z0-9_\-]"
_SHAPE_RANDOM = r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Z])(?=[A-Za-z0-9_\-]*[a-z])"
_PEM_LABEL = r"-----(?:BEGIN|END) (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
# A line break or tab as a JSON string escapes it, once (a tool call's input) or twice
# (a service-account JSON file written by a tool call).
_ESCAPE = r"\\{1,3}[nrt]"


def _env_rule() -> Rule:
    pattern = re.compile(_LINE_START + rf"(?P<key>{_ENV_KEY})[ \t]*=[ \t]*" + _ENV_VALUE,
                         re.MULTILINE)
    triggers = ("pass", "pwd", "secret", "token", "key", "credential", "dsn")
    hint = re.compile(r"(?:PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|DSN)[A-Z0-9_]*[ \t]*=")
    return Rule("env_secret", pattern, triggers, keep_placeholders=True, hint=hint)


def _keyword_rule() -> Rule:
    return KeywordRule(
        "keyword_secret", re.compile(_KEY_WORD + _KEY_SEPARATOR),
        ("pass", "pwd", "secret", "token", "key", "credential", "dsn"), accept=looks_secret,
        name_start=re.compile(_NAME_START), value=re.compile(_KEY_VALUE))


def _shape(name: str, regex: str, *triggers: str) -> Rule:
    """A rule for a secret recognised by its own shape (the whole match is masked)."""
    return Rule(name, re.compile(regex), triggers)


def _hand_written_shapes() -> tuple[Rule, ...]:
    """The rules for secrets of a known shape, which run before gitleaks' rules."""
    return (
        Rule("private_key", re.compile(
            rf"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            # a real body follows (base64, or the headers of an encrypted key) ...
            # (a file read may number its lines: digits and a tab or an arrow before each)
            rf"(?=(?:\s|{_ESCAPE}|\d|\u2192)*(?:Proc-Type:|[A-Za-z0-9+/=]{{40}}))"
            # ... up to its END line, or to the end of what is there (a cut tool output)
            rf"(?:.{{0,65536}}?{_PEM_LABEL}|(?:[A-Za-z0-9+/=:,\-\s\u2192]|{_ESCAPE})*)",
            re.DOTALL), ("private key",)),
        _shape("aws_access_key", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
               "akia", "asia"),
        Rule("aws_secret_key", re.compile(
            r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"'\\]*[ \t]*[:=][ \t]*"
            r"[\"'\\]*(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
            ("aws_secret", "awssecret", "secret_access", "secretaccess")),
        _shape("github_token", r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}"
               r"|github_pat_[A-Za-z0-9_]{60,251})(?![A-Za-z0-9_])",
               "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _shape("gitlab_token", r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}", "glpat-"),
        _shape("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
               r"[A-Za-z0-9_/\-]{20,}", "hooks.slack.com"),
        _shape("slack_token", r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,}", "xox"),
        _shape("anthropic_key", rf"(?<![A-Za-z0-9])sk-ant-{_B64URL}{{20,}}", "sk-ant-"),
        _shape("openai_key", rf"(?<![A-Za-z0-9_\-])sk-(?:proj-|svcacct-|admin-)?"
               rf"{_SHAPE_RANDOM}{_B64URL}{{20,}}", "sk-"),
        _shape("google_api_key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])",
               "aiza"),
        _shape("jwt", rf"(?<![A-Za-z0-9_\-])eyJ{_B64URL}{{10,}}\.{_B64URL}{{10,}}\."
               rf"{_B64URL}{{10,}}", "eyj"),
        # Storage, Service Bus, Event Hubs and Cosmos DB connection strings, and the
        # signature of a shared access signature (SAS) URL; gitleaks has no rule for them.
        Rule("azure_key", re.compile(
            r"(?:(?i:AccountKey|SharedAccessKey|SharedSecretValue)=|[?&]sig=)"
            r"(?P<secret>(?:[A-Za-z0-9+/]|%2[Bb]|%2[Ff]){20,}(?:=|%3[Dd]){0,2})"),
            ("accountkey", "sharedaccesskey", "sharedsecretvalue", "sig=")),
    )


def _context_rules() -> tuple[Rule, ...]:
    """The rules that read a secret from where it stands, which run after gitleaks' rules."""
    return (
        # "://" first: a literal start lets the regex engine skip ahead; the scheme is
        # checked behind it.
        Rule("url_password", re.compile(
            r"://(?<=[A-Za-z0-9]://)[^\s:/@'\"\\<>]{1,128}:"
            r"(?P<secret>[^\s/@'\"\\<>]{1,256})@(?=[A-Za-z0-9\[])"),
            ("://",), keep_placeholders=True, hint=re.compile(r"@")),
        _env_rule(),
        _keyword_rule(),
    )


# -- gitleaks' rules -----------------------------------------------------------------

#: gitleaks rules for a kind that a hand-written rule names: counted under that name.
#: The hand-written rule runs first (it knows JSON escapes and numbered file reads);
#: these catch the shapes it does not (ABIA keys, xoxe- tokens, ...).
GITLEAKS_KINDS = {
    "aws-access-token": "aws_access_key",
    "github-pat": "github_token", "github-oauth": "github_token",
    "github-app-token": "github_token", "github-refresh-token": "github_token",
    "github-fine-grained-pat": "github_token",
    "gitlab-pat": "gitlab_token", "gitlab-pat-routable": "gitlab_token",
    "slack-bot-token": "slack_token", "slack-user-token": "slack_token",
    "slack-app-token": "slack_token", "slack-config-access-token": "slack_token",
    "slack-config-refresh-token": "slack_token", "slack-legacy-bot-token": "slack_token",
    "slack-legacy-token": "slack_token", "slack-legacy-workspace-token": "slack_token",
    "slack-webhook-url": "slack_webhook",
    "anthropic-api-key": "anthropic_key", "anthropic-admin-api-key": "anthropic_key",
    "openai-api-key": "openai_key",
    "gcp-api-key": "google_api_key",
    "jwt": "jwt",
    "private-key": "private_key",
}
#: Cheap first tests for gitleaks rules whose keywords are in most texts ("s." is in
#: "is."): a regex with a literal start, which every secret of the rule matches.
GITLEAKS_HINTS = {"vault-service-token": r"s\.[\w-]{24}"}
#: gitleaks rules left out, and why (besides those for file names: ``path`` rules).
GITLEAKS_LEFT_OUT = {
    # It wants 10+ characters of entropy above 3.5 bits each, so it passes over most
    # passwords, and its 1,500 stopwords are tuned to source repositories; on session
    # text it costs more than all other rules together. keyword_secret does its job.
    "generic-api-key": "keyword_secret",
}

# gitleaks ends most rules with this: the key ends at a quote, a blank, ";", an escaped
# line break or the end. As a lookahead (a key right after it is not swallowed) it also
# ends at a backslash: in a tool call's JSON a quote comes escaped (\").
_GO_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""
_PY_END = r"""(?=[\x60'"\s;\\]|$)"""
# Between a name and its value they allow quotes and blanks; in JSON, quotes are \".
_GO_QUOTES = ((r"""[\s'"]{0,3}""", r"""[\s'"\\]{0,4}"""),
              (r"""[\x60'"\s=]{0,5}""", r"""[\x60'"\s=\\]{0,6}"""))
# ... and most rules that look for a name start by taking up to 50 characters of it:
# masking needs only the secret, and without them the regex runs several times faster.
_GO_NAME_PREFIX = re.compile(r"^(\(\?i\)|\(\?i:)?\[\\w\.-\]\{0,50\}\?")
# A leading \b, which also holds after a JSON escape (\n in a tool call's input).
_WORD_START = r"(?:\b|(?<=\\[nrt]))"
_POSIX_CLASSES = {"alnum": "A-Za-z0-9", "alpha": "A-Za-z", "digit": "0-9", "lower": "a-z",
                  "upper": "A-Z", "xdigit": "0-9A-Fa-f", "word": r"\w", "space": r"\s"}


def go_regex(regex: str) -> str:
    """Return gitleaks' (Go RE2) ``regex`` as a Python regex that finds the same secrets.

    RE2 lets ``(?i)`` stand mid-pattern (to the end of its group, past ``|``), knows
    ``\\z`` and ``[[:alnum:]]``, and takes ``[`` in a class literally; Python wants a
    scoped ``(?i:...)``, ``\\Z``, and ``\\[``. A key at the start of a line in JSON comes
    after an escaped ``\\n``, so a leading ``\\b`` also holds there.
    """
    while (prefix := _GO_NAME_PREFIX.match(regex)) is not None:
        regex = (prefix.group(1) or "") + regex[prefix.end():]
    if regex.endswith(_GO_END):
        regex = regex[:-len(_GO_END)] + _PY_END
    for go, python in _GO_QUOTES:
        regex = regex.replace(go, python)
    out: list[str] = []
    scoped: list[list[str]] = [[]]  # per open group: the flags turned on inside it
    at = 0
    while at < len(regex):
        char = regex[at]
        if char == "\\":
            escape = regex[at:at + 2]
            if escape == r"\b" and at == (4 if regex.startswith("(?i)") else 0):
                escape = _WORD_START
            out.append(r"\Z" if escape == r"\z" else escape)
            at += 2
        elif char == "[":
            at = _go_class(regex, at, out)
        elif char == "(":
            flags = re.match(r"\(\?([a-zA-Z-]+)\)", regex[at:])
            if flags and at > 0:
                out.append(f"(?{flags.group(1)}:")
                scoped[-1].append(flags.group(1))
                at += flags.end()
            elif flags:
                out.append(flags.group(0))
                at += flags.end()
            else:
                scoped.append([])
                out.append("(")
                at += 1
        elif char == ")":
            out.append(")" * len(scoped.pop()) + ")")
            at += 1
        elif char == "|" and scoped[-1]:
            flags_on = scoped[-1]
            out.append(")" * len(flags_on) + "|" + "".join(f"(?{f}:" for f in flags_on))
            at += 1
        else:
            out.append(char)
            at += 1
    out.append(")" * len(scoped.pop()))
    return "".join(out)


def _go_class(regex: str, at: int, out: list[str]) -> int:
    """Append the character class starting at ``regex[at]``; return where it ends."""
    parts = ["["]
    at += 1
    if regex[at] == "^":
        parts.append("^")
        at += 1
    if regex[at] == "]":
        parts.append(r"\]")
        at += 1
    while regex[at] != "]":
        if regex[at] == "\\":
            parts.append(regex[at:at + 2])
            at += 2
        elif regex.startswith("[:", at):
            end = regex.index(":]", at)
            parts.append(_POSIX_CLASSES[regex[at + 2:end]])
            at = end + 2
        elif regex[at] == "[" or (regex[at] in "&-|~" and parts[-1] == regex[at]):
            parts.append("\\" + regex[at])  # Python warns of future set syntax otherwise
            at += 1
        else:
            parts.append(regex[at])
            at += 1
    out.append("".join(parts) + "]")
    return at + 1


def _allowlists(specs: Iterable[dict]) -> tuple[Allowlist, ...]:
    """Return gitleaks allowlists as :class:`Allowlist` (file and commit tests dropped)."""
    lists = []
    for spec in specs:
        every = spec.get("condition", "OR").upper() == "AND"
        if every and (spec.get("paths") or spec.get("commits")):
            continue  # entries have no file name or commit: never all true
        if not (spec.get("regexes") or spec.get("stopwords")):
            continue  # only file names or commits
        lists.append(Allowlist(
            spec.get("regexTarget", "secret"),
            tuple(re.compile(go_regex(r), re.ASCII) for r in spec.get("regexes", ())),
            tuple(w.lower() for w in spec.get("stopwords", ())), every))
    return tuple(lists)


@functools.cache
def gitleaks_rules() -> tuple[Rule, ...]:
    """Return gitleaks' rules that run here, as :class:`GitleaksRule`, in its order."""
    config = tomllib.loads(gitleaks.CONFIG)
    everywhere = _allowlists([config.get("allowlist", {})])
    rules = []
    for spec in config["rules"]:
        if "regex" not in spec or "path" in spec or spec["id"] in GITLEAKS_LEFT_OUT:
            continue
        regex = go_regex(spec["regex"])
        # A regex that starts with a boundary is tried at every position; without it,
        # the engine skips to where its first characters are: a cheap first test.
        flags = "(?i)" if regex.startswith("(?i)") else ""
        hint = None
        if spec["id"] in GITLEAKS_HINTS:
            hint = re.compile(GITLEAKS_HINTS[spec["id"]], re.ASCII)
        elif regex.startswith(_WORD_START, len(flags)):
            hint = re.compile(flags + regex[len(flags) + len(_WORD_START):], re.ASCII)
        rules.append(GitleaksRule(
            GITLEAKS_KINDS.get(spec["id"], spec["id"].replace("-", "_")),
            re.compile(regex, re.ASCII),
            tuple(word.lower() for word in spec.get("keywords", ())), hint=hint,
            entropy=float(spec.get("entropy", 0.0)), group=int(spec.get("secretGroup", 0)),
            allowlists=everywhere + _allowlists(spec.get("allowlists", ()))))
    return tuple(rules)


@functools.cache
def builtin_rules() -> tuple[Rule, ...]:
    """Return the built-in rules in the order they run.

    Specific shapes first, then gitleaks', then the generic key=value rules, so
    ``GITHUB_TOKEN=ghp_...`` is counted as a GitHub token and a value that one rule
    masked is a placeholder to the next.
    """
    return _hand_written_shapes() + gitleaks_rules() + _context_rules()


def rule_names() -> tuple[str, ...]:
    """Return the names of the built-in rules, each once, in the order they first run."""
    return tuple(dict.fromkeys(rule.name for rule in builtin_rules()))


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

    Shared prefixes are tried once (``a(?:kia|sia|iza)``), which makes the one scan
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


class TriggerScan:
    """Finds which of a set of lower-case words occur in a text, in any case, in one pass."""

    def __init__(self, words: Iterable[str], compiled: bool = True):
        self.words = tuple(sorted(set(words)))
        self._automaton = None
        self._regex = None
        if self.words and compiled and ahocorasick_rs is not None:
            self._automaton = ahocorasick_rs.AhoCorasick(
                list(self.words), implementation=ahocorasick_rs.Implementation.DFA)
        elif self.words:
            # Each position gives its longest word; the shorter ones inside it are added.
            self._regex = re.compile("(?=(" + _trie_regex(self.words) + "))")
            self._inside = {w: frozenset(v for v in self.words if v in w) for w in self.words}

    def find(self, text: str) -> set[str]:
        """Return the words that occur in ``text`` (compared lower-cased)."""
        lowered = text.lower()
        if self._automaton is not None:
            return set(self._automaton.find_matches_as_strings(lowered, overlapping=True))
        if self._regex is None:
            return set()
        found: set[str] = set()
        for word in set(self._regex.findall(lowered)):
            found |= self._inside[word]
        return found


class Redactor:
    """Masks secrets in text with the enabled rules and counts what it masked, per rule."""

    def __init__(self, rules: Iterable[Rule] | None = None, compiled_scan: bool = True):
        self.rules = builtin_rules() if rules is None else tuple(rules)
        # One scan finds which triggers occur; the rules of those words run, in order.
        by_word: dict[str, list[int]] = collections.defaultdict(list)
        for index, rule in enumerate(self.rules):
            for word in rule.triggers:
                by_word[word.lower()].append(index)
        self._by_word = {word: tuple(indexes) for word, indexes in by_word.items()}
        self._always = frozenset(i for i, rule in enumerate(self.rules) if not rule.triggers)
        self._scan = TriggerScan(self._by_word, compiled=compiled_scan)
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}

    @classmethod
    def from_settings(cls, disable: Iterable[str] = (), extra: Iterable[str] = ()) -> "Redactor":
        """Build the redactor of the config: built-ins minus ``disable``, plus ``extra`` rules.

        :raises ValueError: an unknown rule name in ``disable`` or a bad ``extra`` rule.
        """
        extras = [parse_extra(spec) for spec in extra]
        known = set(rule_names()) | {rule.name for rule in extras}
        off = set(disable)
        unknown = sorted(off - known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see the README's list"
            raise ValueError(f"unknown redaction rule {unknown[0]!r} ({hint})")
        return cls([r for r in (*builtin_rules(), *extras) if r.name not in off])

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with secrets masked and the number masked per rule (only hits)."""
        counts: dict[str, int] = {}
        present = self._scan.find(text)
        if not present and not self._always:
            return text, counts
        chosen = set(self._always)
        for word in present:
            chosen.update(self._by_word[word])
        for index in sorted(chosen):
            rule = self.rules[index]
            if rule.hint is None or rule.hint.search(text) is not None:
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

    def add_totals(self, counts: dict[str, int]) -> None:
        """Count what a copy of this redactor masked elsewhere (a build worker)."""
        with self._lock:
            for name, found in counts.items():
                self._totals[name] = self._totals.get(name, 0) + found


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
