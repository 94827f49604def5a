"""Redaction: every kind of secret is masked before a payload exists, near misses are not.

The fake secrets come from tests/exporter/fake_secrets.py (random, built at run time).
The last test runs ``thinkt export`` against a real collector and looks for the
secrets in the disk buffer and in the collector's database file.
"""

from __future__ import annotations

import gzip
import json
import logging
import time

import click
import pytest
from hypothesis import given, settings, strategies as st

from thinkt import config
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.command import build_redactor
from thinkt.exporter.entry import Entry, tool_input_text
from thinkt.exporter.ship import redact
from thinkt.exporter.ship.redact import (
    Redactor, TriggerScan, go_regex, is_placeholder, looks_secret, parse_extra, rule_names)
from thinkt.status import ConfigError
from tests.exporter.fake_secrets import FakeSecret, fake_secrets

SECRETS = fake_secrets()


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def pieces(fake: FakeSecret) -> list[str]:
    """The secret, and each long line of it (a numbered file read splits a key block).

    A key in a JSON file has its lines joined by an escaped newline instead.
    """
    lines = fake.secret.replace("\\n", "\n").split("\n")
    inner = lines[1:-1] if len(lines) > 2 and "-----" in fake.secret else lines
    return [fake.secret] + [line for line in inner if len(line) > 16 and line != fake.secret]


def leaked(fake: FakeSecret, text: str) -> bool:
    return any(piece in text for piece in pieces(fake))


@pytest.mark.parametrize("fake", SECRETS, ids=lambda f: f.kind)
def test_each_kind_is_replaced_by_its_marker_and_the_context_stays(fake: FakeSecret):
    text, counts = Redactor().redact(fake.text)
    assert not leaked(fake, text)
    assert marker(fake.kind) in text
    assert counts == {fake.kind: 1}
    for kept in fake.kept:
        assert kept in text


HAND_WRITTEN = {rule.name for rule in redact._hand_written_shapes() + redact._context_rules()}
#: The kinds issue 14 names (item 10), besides the hand-written ones.
ISSUE_14_KINDS = {
    "stripe_access_token", "twilio_api_key", "sendgrid_api_token", "npm_access_token",
    "pypi_upload_token", "huggingface_access_token", "datadog_access_token", "heroku_api_key",
    "digitalocean_pat", "mailgun_private_api_token", "shopify_access_token",
    "databricks_api_token", "postman_api_token",
}


def test_every_hand_written_rule_and_each_kind_of_issue_14_has_a_fake_secret():
    kinds = {fake.kind for fake in SECRETS}
    assert kinds == HAND_WRITTEN | ISSUE_14_KINDS
    assert kinds <= set(rule_names())
    assert {"azure_key", "keyword_secret"} <= HAND_WRITTEN


@pytest.mark.parametrize("fake", SECRETS, ids=lambda f: f.kind)
def test_secrets_inside_a_tool_calls_json_are_masked(fake: FakeSecret):
    """Tool inputs travel as compact JSON: newlines and quotes escaped."""
    rendered = tool_input_text({"file_path": "/work/app/.env", "content": fake.text})
    text, counts = Redactor().redact(rendered)
    assert not leaked(fake, text)
    assert counts == {fake.kind: 1}
    assert json.loads(text)["file_path"] == "/work/app/.env"  # still valid JSON


@pytest.mark.parametrize("fake", SECRETS, ids=lambda f: f.kind)
def test_secrets_in_a_numbered_file_read_are_masked(fake: FakeSecret):
    numbered = "\n".join(f"{n + 1:6d}\t{line}" for n, line in enumerate(fake.text.split("\n")))
    text, counts = Redactor().redact(numbered)
    assert not leaked(fake, text)
    assert counts == {fake.kind: 1}


def test_a_file_read_with_line_numbers_is_masked():
    fake = next(f for f in SECRETS if f.kind == "env_secret")
    numbered = "     1\tDEBUG=1\n     2\tDB_PASSWORD=" + fake.secret + "\n     3\tX=2\n"
    arrowed = "1\u2192DEBUG=1\n2\u2192DB_PASSWORD=" + fake.secret + "\n"
    for text in (numbered, arrowed):
        masked, counts = Redactor().redact(text)
        assert fake.secret not in masked and counts == {"env_secret": 1}


def test_many_secrets_in_one_text_are_all_counted():
    text = "\n\n".join(fake.text for fake in SECRETS)
    masked, counts = Redactor().redact(text)
    for fake in SECRETS:
        assert not leaked(fake, masked)
    expected: dict[str, int] = {}
    for fake in SECRETS:
        expected[fake.kind] = expected.get(fake.kind, 0) + 1
    assert counts == expected


NEAR_MISSES = [
    "MAX_TOKENS=4096\nTOKEN_LIMIT=100\nPASSWORD_MIN_LENGTH=12",
    "API_KEY=\nSECRET_KEY=${SECRET_KEY}\nDB_PASSWORD=<your password>\nAUTH_TOKEN=changeme",
    "ACCESS_KEY=your-access-key-here\nCLIENT_SECRET=xxxxxxxx\nPRIVATE_KEY=$KEY_PATH",
    "token = get_token()\npassword = request.form[\"password\"]",
    "API_TOKEN = os.environ[\"API_TOKEN\"]\nSORT_KEY=name\nKEYBOARD=us",
    "url = f\"postgresql://{user}:{password}@{host}/{db}\"",
    "see http://localhost:8080/a@b and git@github.com:org/repo.git and ssh://git@host:22/x",
    "pip install scikit-learn; the task-runner-for-everything-and-more starts",
    "sk-learn-is-not-a-key-at-all-really and ask-me-anything-about-the-weather-please",
    "ghp_short and github_pat_ and glpat- alone, xoxb- too",
    "the AKIAISSUE tracker; AKIA1234 is too short; ASIAN cuisine",
    "if line.startswith('-----BEGIN RSA PRIVATE KEY-----'):\n    parse(line)",
    "eyJhbGciOi is half a header; a.b.c is not a token",
    "redis://:@localhost:6379/0 and https://user:@host/",
    # secret-ish names in the middle of a line, with code, prose or references as values
    "token = get_token()\nself.api_key = api_key\npassword=os.environ[\"DB_PASSWORD\"]",
    '{"password": "Enter your password", "token": "{{ .Values.token }}", "secret": null}',
    "apiKey: process.env.API_KEY, secret: my-k8s-secret, password_file: /run/secrets/db",
    "--- PASS: TestEventPayloadSerialization (0.00s)\n--- PASS: TestTrackCommand (0.02s)",
    "keyboard: us, key: value, primary_key: id, sort_key=created_at, max_tokens: 4096",
    "api_key=settings.OPENAI_API_KEY and token: ${{ secrets.GITHUB_TOKEN }} in the workflow",
    "the password: at least 12 characters; Token: see the README, secret: TopSecretName",
    "ssh -i ~/.ssh/id_ed25519 and SECRET_KEY=django-insecure-change-me later",
    "stripe keys look like sk_live_... and rk_test_xxxx; SG.abc is not a SendGrid key",
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=<your key>;EndpointSuffix=y",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str):
    assert Redactor().redact(text) == (text, {})


def test_redacting_twice_changes_nothing_more():
    text = "\n".join(fake.text for fake in SECRETS)
    redactor = Redactor()
    once, _ = redactor.redact(text)
    assert redactor.redact(once) == (once, {})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_redaction_is_stable_on_any_text(text: str):
    redactor = Redactor()
    once, counts = redactor.redact(text)
    if not counts:
        assert once == text
    assert redactor.redact(once)[0] == once


@pytest.mark.parametrize("value,expected", [
    ("", True), ("${VAR}", True), ("<token>", True), ("changeme", True), ("****", True),
    ("4096", True), ("your_api_key", True), ("{password}", True), ("[REDACTED:jwt]", True),
    ("hunter22", False), ("s3cr3t-value", False), ("Zq8f02LmX", False),
])
def test_placeholders(value: str, expected: bool):
    assert is_placeholder(value) is expected


def test_totals_add_up_over_calls_and_are_copies():
    redactor = Redactor()
    for fake in SECRETS[:3]:
        redactor.redact(fake.text)
    totals = redactor.totals()
    assert totals == {"aws_access_key": 2, "aws_secret_key": 1}
    totals["jwt"] = 5
    assert "jwt" not in redactor.totals()


def test_disabled_rules_do_not_run():
    fake = next(f for f in SECRETS if f.kind == "jwt")
    redactor = Redactor.from_settings(disable=["jwt"])
    assert redactor.redact(fake.text) == (fake.text, {})
    assert "jwt" not in [rule.name for rule in redactor.rules]


def test_an_unknown_rule_to_disable_is_an_error():
    with pytest.raises(ValueError, match="unknown redaction rule 'jtw'"):
        Redactor.from_settings(disable=["jtw"])


def test_extra_rules_mask_the_whole_match_or_the_secret_group():
    redactor = Redactor.from_settings(extra=[
        r"employee_id=EMP-\d{6}",
        r"internal_token=tok:(?P<secret>[a-f0-9]{16})\b",
    ])
    text, counts = redactor.redact("id EMP-123456 and tok:0123456789abcdef here")
    assert text == "id [REDACTED:employee_id] and tok:[REDACTED:internal_token] here"
    assert counts == {"employee_id": 1, "internal_token": 1}


def test_an_extra_rule_can_be_disabled_by_name():
    redactor = Redactor.from_settings(disable=["mine"], extra=[r"mine=EMP-\d+"])
    assert redactor.redact("EMP-1") == ("EMP-1", {})


@pytest.mark.parametrize("spec,message", [
    ("no-equals-sign", "NAME=REGEX"),
    ("bad name=x", "NAME=REGEX"),
    ("name=", "NAME=REGEX"),
    ("name=(unclosed", "bad regex"),
    ("name=a*", "matches empty text"),
])
def test_bad_extra_rules_are_refused(spec: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_extra(spec)


def test_nothing_about_a_secret_is_logged(caplog):
    caplog.set_level(logging.DEBUG)
    redactor = Redactor()
    for fake in SECRETS:
        redactor.redact(fake.text)
    for fake in SECRETS:
        assert fake.secret not in caplog.text


# -- payloads ----------------------------------------------------------------------------


def entry(uuid: str, text: str | None, session: str = "s1", **extra) -> Entry:
    return Entry(session_id=session, uuid=uuid, role="user", timestamp="2025-01-01T00:00:00Z",
                 text=text, **extra)


def test_payloads_carry_masked_text_and_their_own_counts():
    aws = next(f for f in SECRETS if f.kind == "aws_access_key")
    jwt = next(f for f in SECRETS if f.kind == "jwt")
    entries = [entry("a", aws.text), entry("b", "hello"), entry("c", aws.text + jwt.text),
               entry("d", jwt.text)]
    built = [payloads.decode(p.body) for p in payloads.build(
        "claude", entries, instance_id="i", limit=2, redactor=Redactor())]
    assert [p["metadata"] for p in built] == [
        {"redactions": {"aws_access_key": 1}},
        {"redactions": {"aws_access_key": 1, "jwt": 2}},
    ]
    decoded = json.dumps(built)
    assert aws.secret not in decoded and jwt.secret not in decoded
    assert built[0]["entries"][1]["text"] == "hello"


def built_payloads(entries, **kwargs) -> list[dict]:
    return [payloads.decode(p.body) for p in payloads.build("claude", entries,
                                                            instance_id="i", **kwargs)]


def test_payloads_without_secrets_have_no_metadata():
    built = built_payloads([entry("a", "hello")], redactor=Redactor())
    assert "metadata" not in built[0]


def test_without_a_redactor_text_goes_as_it_is():
    aws = next(f for f in SECRETS if f.kind == "aws_access_key")
    built = built_payloads([entry("a", aws.text)], redactor=None)
    assert built[0]["entries"][0]["text"] == aws.text
    assert "metadata" not in built[0]


def test_metadata_only_ships_no_text_but_everything_else():
    aws = next(f for f in SECRETS if f.kind == "aws_access_key")
    entries = [entry("a", aws.text, model="claude-sonnet-4", tool_name="Bash",
                     input_tokens=10, output_tokens=20, cwd="/work/p")]
    built = built_payloads(entries, redactor=Redactor(), metadata_only=True)
    wire = built[0]["entries"][0]
    assert "text" not in wire
    assert wire == {"uuid": "a", "role": "user", "timestamp": "2025-01-01T00:00:00Z",
                    "model": "claude-sonnet-4", "tool_name": "Bash", "input_tokens": 10,
                    "output_tokens": 20, "cwd": "/work/p"}
    assert built[0]["metadata"] == {"metadata_only": True}


# -- settings ----------------------------------------------------------------------------


def params(**overrides) -> dict:
    base = {"no_redact": False, "redact_disable": (), "redact_extra": (),
            "metadata_only": False}
    return {**base, **overrides}


def test_redaction_is_on_by_default_and_off_with_no_redact():
    assert isinstance(build_redactor(params()), Redactor)
    assert build_redactor(params(no_redact=True)) is None


def test_bad_redaction_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown redaction rule"):
        build_redactor(params(redact_disable=("nope",)))
    with pytest.raises(ConfigError, match="bad regex"):
        build_redactor(params(redact_extra=("x=(",)))


def test_the_config_file_takes_lists_of_rules(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[exporter]\nredact_disable = ["jwt", "env_secret"]\n'
                    'redact_extra = [\'employee_id=EMP-\\d{6}\']\nmetadata_only = true\n')
    values = config.load_file(path, "exporter")
    assert values["redact_disable"] == ["jwt", "env_secret"]
    assert values["metadata_only"] is True
    redactor = build_redactor(params(redact_disable=values["redact_disable"],
                                     redact_extra=values["redact_extra"]))
    names = [rule.name for rule in redactor.rules]
    assert "jwt" not in names and "env_secret" not in names and names[-1] == "employee_id"


def test_the_export_command_has_the_privacy_flags():
    from thinkt.exporter.command import export

    flags = {opt for param in export.params if isinstance(param, click.Option)
             for opt in param.opts}
    assert {"--no-redact", "--redact-disable", "--redact-extra", "--metadata-only"} <= flags


# -- real collector ----------------------------------------------------------------------


def claude_record(uuid: str, session: str, message: dict, *, kind: str, parent: str | None,
                  extra: dict | None = None) -> bytes:
    """One Claude Code JSONL record, in the shape Claude Code writes."""
    record = {"parentUuid": parent, "isSidechain": False, "userType": "external",
              "cwd": "/work/app", "sessionId": session, "version": "2.1.38",
              "gitBranch": "main", "type": kind, "message": message, "uuid": uuid,
              "timestamp": "2025-06-01T10:00:00.000Z", **(extra or {})}
    return (json.dumps(record) + "\n").encode()


def secret_session(session: str) -> bytes:
    """Prompts, replies, a Write tool call and a file read, each carrying fake secrets."""
    lines, parent = [], None
    for n, fake in enumerate(SECRETS):
        uuid = f"{session}-{n:03d}"
        if n % 3 == 0:  # pasted into a prompt
            lines.append(claude_record(uuid, session, {"role": "user", "content": fake.text},
                                       kind="user", parent=parent))
        elif n % 3 == 1:  # written by the agent into a file
            call = {"type": "tool_use", "id": f"toolu_{n:04d}", "name": "Write",
                    "input": {"file_path": "/work/app/.env", "content": fake.text}}
            message = {"id": f"msg_{n:04d}", "type": "message", "role": "assistant",
                       "model": "claude-sonnet-4", "content": [call], "stop_reason": "tool_use",
                       "usage": {"input_tokens": 10, "output_tokens": 5,
                                 "cache_read_input_tokens": 0,
                                 "cache_creation_input_tokens": 0}}
            lines.append(claude_record(uuid, session, message, kind="assistant", parent=parent))
        else:  # read back by a tool
            result = {"type": "tool_result", "tool_use_id": f"toolu_{n - 1:04d}",
                      "content": "\n".join(f"{i + 1:6d}\t{line}" for i, line
                                           in enumerate(fake.text.split("\n")))}
            lines.append(claude_record(uuid, session, {"role": "user", "content": [result]},
                                       kind="user", parent=parent))
        parent = uuid
    return b"".join(lines)


def expected_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for fake in SECRETS:
        counts[fake.kind] = counts.get(fake.kind, 0) + 1
    return counts


def buffered(home) -> list[str]:
    """Every payload in the disk buffer, decompressed: the JSON text of each."""
    paths = sorted((home / ".thinkt" / "export-buffer").glob("*.json.gz"))
    assert paths
    return [gzip.decompress(path.read_bytes()).decode() for path in paths]


@pytest.mark.slow
@pytest.mark.parametrize("flags", [(), ("--no-redact",), ("--metadata-only",),
                                   ("--redact-disable", "jwt", "--redact-disable",
                                    "env_secret", "--redact-disable", "keyword_secret")])
def test_the_export_command_applies_the_privacy_settings(home, tmp_path, flags):
    from tests.conftest import free_port
    from tests.exporter.corpus import session_file
    from tests.exporter.running import Exporter

    session_file(home, "sess-flags").write_bytes(secret_session("sess-flags"))
    down = f"http://127.0.0.1:{free_port()}"  # no collector: payloads wait in the buffer
    done = Exporter(home, tmp_path / "e.log", "--collector-url", down, *flags).run()
    assert done.returncode == 0, done.stdout + done.stderr
    raws = buffered(home)
    text = "\n".join(raws)
    payloads_ = [json.loads(raw) for raw in raws]
    entries = [e for p in payloads_ for e in p["entries"]]
    assert len(entries) == len(SECRETS)
    status = json.loads((home / ".thinkt" / "exporter-status.json").read_text())
    off = {"jwt", "env_secret", "keyword_secret"} if "--redact-disable" in flags else set()
    if flags == ("--metadata-only",):
        assert not any("text" in e for e in entries)
        assert all(e["role"] and e["timestamp"] for e in entries)
        assert {e.get("tool_name") for e in entries} >= {"Write"}
        assert status["counts"]["redactions"] == {}
        assert status["redaction"] == "metadata-only"
    elif flags == ("--no-redact",):
        assert all(leaked(fake, text) for fake in SECRETS)
        assert "[REDACTED:" not in text
        assert status["counts"]["redactions"] == {}
        assert status["redaction"] == "off"
    else:
        for fake in SECRETS:
            assert leaked(fake, text) == (fake.kind in off), fake.kind
        expected = {k: v for k, v in expected_counts().items() if k not in off}
        assert status["counts"]["redactions"] == expected
        assert status["redaction"] == "on"
        assert sum(sum(p.get("metadata", {}).get("redactions", {}).values())
                   for p in payloads_) == sum(expected.values())


@pytest.mark.slow
def test_exported_secrets_reach_neither_the_buffer_nor_the_collector(home, tmp_path):
    from tests.conftest import free_port
    from tests.exporter.corpus import session_file
    from tests.exporter.running import Exporter
    from tests.harness import Collector

    first = session_file(home, "sess-buffered")
    first.write_bytes(secret_session("sess-buffered"))
    # No collector yet: the payloads wait in the disk buffer.
    down = f"http://127.0.0.1:{free_port()}"
    done = Exporter(home, tmp_path / "e1.log", "--collector-url", down).run()
    outputs = done.stdout + done.stderr
    assert done.returncode == 0, outputs
    text = "\n".join(buffered(home))
    for fake in SECRETS:
        assert not leaked(fake, text)
        assert json.dumps(fake.secret)[1:-1] not in text  # nor JSON-escaped
        assert marker(fake.kind) in text

    collector = Collector(tmp_path / "collector.duckdb", tmp_path / "collector.log").start()
    try:
        second = session_file(home, "sess-direct")
        second.write_bytes(secret_session("sess-direct"))
        done = Exporter(home, tmp_path / "e2.log", "--collector-url", collector.url,
                        "--log", str(tmp_path / "e2.log")).run()
        outputs += done.stdout + done.stderr + (tmp_path / "e2.log").read_text()
        assert done.returncode == 0, outputs
        status = json.loads((home / ".thinkt" / "exporter-status.json").read_text())
        assert status["counts"]["redactions"] == expected_counts()  # this run's session
        texts = []
        deadline = time.monotonic() + 30
        for session in ("sess-buffered", "sess-direct"):
            while True:
                response = collector.get(f"/v1/sessions/{session}/entries",
                                         params={"limit": 1000})
                if response.status_code == 200 and len(response.json()) == len(SECRETS):
                    break
                assert time.monotonic() < deadline, (session, response.text)
                time.sleep(0.2)
            texts += [row.get("text") or "" for row in response.json()]
        stored = "\n".join(texts)
        for fake in SECRETS:
            assert not leaked(fake, stored)
            assert stored.count(marker(fake.kind)) == 2 * expected_counts()[fake.kind]
    finally:
        collector.stop()
    database = b"".join(path.read_bytes() for path in tmp_path.glob("collector.duckdb*"))
    assert b"[REDACTED:" in database  # text is stored readably: absence below means something
    for fake in SECRETS:
        for piece in pieces(fake) + [fake.secret[:24]]:  # whole, lines, and a prefix
            assert piece.encode() not in database
    logged = outputs + collector.log()
    assert not any(leaked(fake, logged) for fake in SECRETS)


TRIGGER_PARTS = ["sk-", "sk-ant-", "AKIA", "AIza", "KEY", "PRIVATE KEY", "x", " ", "ghp_", "gh",
                 "://", "TOKEN", "PASS", "ECRET", "S", "s.", "Hvs.", "ey", "Stripe", "SK_LIVE",
                 "hf_", "dop_v1_", "shpat", "_", "sig="]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TRIGGER_PARTS), max_size=12))
def test_the_trigger_scan_finds_every_trigger_in_any_case_both_ways(parts: list[str]):
    text = "".join(parts)
    words = {t for rule in Redactor().rules for t in rule.triggers}
    expected = {word for word in words if word in text.lower()}
    assert TriggerScan(words).find(text) == expected
    assert TriggerScan(words, compiled=False).find(text) == expected  # without the extra


def test_without_the_compiled_scan_the_same_secrets_are_masked():
    text = "\n\n".join(fake.text for fake in SECRETS)
    assert Redactor(compiled_scan=False).redact(text) == Redactor().redact(text)


# -- gitleaks' rules ---------------------------------------------------------------------


def test_gitleaks_rules_are_read_and_run_after_the_hand_written_shapes():
    names = [rule.name for rule in redact.builtin_rules()]
    vendored = redact.gitleaks_rules()
    assert len(vendored) > 190 and all(rule.triggers for rule in vendored)
    assert "stripe_access_token" in names and "generic_api_key" not in names
    assert names.index("jwt") < names.index("stripe_access_token") < names.index("env_secret")
    # the kinds a hand-written rule names are counted under that name
    assert sum(rule.name == "github_token" for rule in vendored) == 5


@pytest.mark.parametrize("go,python", [
    (r"""(?i)\b(npm_[a-z0-9]{36})(?:[\x60'"\s;]|\\[nr]|$)""",
     r"""(?i)(?:\b|(?<=\\[nrt]))(npm_[a-z0-9]{36})(?=[\x60'"\s;\\]|$)"""),
    (r"a(?i)b|c(d(?-i)e|f)g", r"a(?i:b)|(?i:c(d(?-i:e)|(?-i:f))g)"),
    (r"\b(pat[[:alnum:]]{14})\b", r"(?:\b|(?<=\\[nrt]))(pat[A-Za-z0-9]{14})\b"),
    (r"x[[\]]y(?:\s|\z)", r"x[\[\]]y(?:\s|\Z)"),
    (r"""(?i)[\w.-]{0,50}?(?:heroku)[\s'"]{0,3}=""", r"""(?i)(?:heroku)[\s'"\\]{0,4}="""),
])
def test_go_regexes_become_python_regexes(go: str, python: str):
    assert go_regex(go) == python


def test_gitleaks_entropy_and_allowlists_apply():
    rule = next(r for r in redact.gitleaks_rules() if r.name == "twilio_api_key")
    low = "SK" + "0a" * 16  # 1.2 bits per character: gitleaks wants more than 3
    assert rule.apply(f"key {low} here") == (f"key {low} here", 0)
    aws = next(r for r in redact.gitleaks_rules() if r.name == "aws_access_key")
    example = "AKIA" + "IOSF" + "ODNN7" + "EXAMPLE"  # the documentation's, allowlisted
    assert aws.apply(f"id {example} x") == (f"id {example} x", 0)


def test_a_stripe_key_in_a_quoted_value_of_a_tool_calls_json_is_masked():
    fake = next(f for f in SECRETS if f.kind == "stripe_access_token")
    rendered = tool_input_text({"content": f'STRIPE_KEY="{fake.secret}"\nDEBUG=1'})
    text, counts = Redactor().redact(rendered)
    assert fake.secret not in text and counts == {"stripe_access_token": 1}


@pytest.mark.parametrize("value,expected", [
    ("Zq8f02LmX4", True), ("hunter2hunter", True), ("pa$$phrase-ok", True),
    ("short1", False), ("AbXkQpZrTmWvYsLnHcJd", False), ("TopSecretName", False), ("process.env.API_KEY", False),
    ("/run/secrets/db", False), ("https://vault.internal/v1", False), ("sa-key-2.json", False),
    ("Enter the password", False), ("${API_KEY}", False),
])
def test_values_beside_a_secret_name_mid_line(value: str, expected: bool):
    assert looks_secret(value) is expected
