"""Tokens with roles: the token file's lines, what each endpoint needs, 403 for the rest.

The app-level tests use the recording client of test_app; one test runs a real
collector from a token file and a real exporter with an ingest-only key.
"""

from __future__ import annotations

import multiprocessing
import os
import stat

import pytest
import requests

from tests.collector.test_app import RecordingClient, batch
from tests.exporter.corpus import claude_line, session_file
from tests.exporter.running import Exporter
from tests.harness import Collector
from thinkt.collector import auth
from thinkt.collector.app import create_app
from thinkt.collector.settings import CollectorSettings
from thinkt.status import ConfigError

READ_PATHS = ["/v1/traces/stats", "/v1/agents", "/v1/sessions", "/v1/usage",
              "/v1/traces/search?q=x", "/v1/sessions/s/entries", "/metrics"]


# -- the token file ------------------------------------------------------------------------
def test_a_bare_token_has_every_role_and_words_give_roles_and_a_name():
    assert auth.parse_line("abc").roles == frozenset(auth.ROLES)
    line = auth.parse_line("  abc  ingest READ  name=laptop-fleet ")
    assert (line.token, line.roles, line.name) == ("abc", {"ingest", "read"}, "laptop-fleet")
    assert auth.parse_line("abc name=ci").roles == frozenset(auth.ROLES)


@pytest.mark.parametrize("line, says", [
    ("abc raed", "'raed' is not a role"),
    ("abc read secret-part-2", "word 3 is not a role"),
    ("abc name=a name=b", "name is given twice"),
    ("abc name=has/slash", "is not a plain word"),
])
def test_a_bad_line_says_what_is_wrong_without_the_token(line, says):
    with pytest.raises(ValueError, match=says) as caught:
        auth.parse_line(line)
    assert "abc" not in str(caught.value) and "secret-part" not in str(caught.value)


def test_the_token_file_error_names_the_line(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# team tokens\n\ngood-token read\nother-token rread\n")
    with pytest.raises(ConfigError, match=r"line 4: 'rread' is not a role") as caught:
        auth.read_token_file(str(path))
    assert "other-token" not in str(caught.value) and caught.value.hint


def test_a_token_file_with_only_comments_holds_no_token(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# nothing yet\n\n")
    with pytest.raises(ConfigError, match="holds no token"):
        auth.read_token_file(str(path))


def test_merge_keeps_each_token_once_and_refuses_two_of_one_name():
    merged = auth.merge([auth.Grant("a", frozenset({"read"})), auth.Grant("a"),
                         auth.Grant("b", name="x")])
    assert [(g.token, g.roles) for g in merged] == [("a", {"read"}), ("b", set(auth.ROLES))]
    with pytest.raises(ConfigError, match="two tokens are named 'x'"):
        auth.merge([auth.Grant("a", name="x"), auth.Grant("b", name="x")])


def test_a_grant_never_shows_its_token():
    grant = auth.Grant("very-secret-token", frozenset({"read"}))
    assert "very-secret" not in repr(grant)
    assert grant.label.startswith("token #") and "very-secret" not in grant.label
    assert auth.Grant("very-secret-token", name="ci").label == "ci"


def test_what_each_endpoint_needs():
    assert auth.required_role("api.ingest", "POST") == "ingest"
    assert auth.required_role("api.register_agent", "POST") == "ingest"
    assert auth.required_role("api.usage", "GET") == "read"
    assert auth.required_role("api.delete_session", "DELETE") == "admin"


def test_the_keyring_finds_by_token_and_by_fingerprint_only():
    keyring = auth.Keyring([auth.Grant("t1", frozenset({"read"})), auth.Grant("t2")], b"s" * 32)
    assert keyring.find("t2").token == "t2" and keyring.find("t3") is None
    print_ = keyring.fingerprint("t1")
    assert "t1" not in print_ and keyring.find_fingerprint(print_).token == "t1"
    assert keyring.find_fingerprint(auth.Keyring([], b"other" * 8).fingerprint("t1")) is None
    assert keyring.find_fingerprint("not hex \u00e9") is None


# -- the web secret ------------------------------------------------------------------------
def test_the_web_secret_is_made_once_private_and_kept(tmp_path):
    first = auth.load_secret(tmp_path / "state")
    path = tmp_path / "state" / auth.SECRET_FILE
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.load_secret(tmp_path / "state") == first
    assert [p.name for p in (tmp_path / "state").iterdir()] == [auth.SECRET_FILE]


def _load(directory, out):
    out.put(auth.load_secret(directory))


def test_processes_starting_at_once_agree_on_one_secret(tmp_path):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [context.Process(target=_load, args=(tmp_path, out)) for _ in range(4)]
    for proc in procs:
        proc.start()
    secrets = {out.get(timeout=60) for _ in procs}
    for proc in procs:
        proc.join(timeout=60)
    assert len(secrets) == 1


def test_a_short_secret_file_is_refused_with_a_fix(tmp_path):
    (tmp_path / auth.SECRET_FILE).write_text("short\n")
    with pytest.raises(ConfigError, match="too short") as caught:
        auth.load_secret(tmp_path)
    assert "Delete it" in caught.value.hint


# -- the app -------------------------------------------------------------------------------
@pytest.fixture
def recorder():
    return RecordingClient()


@pytest.fixture
def roles_client(recorder):
    tokens = (auth.Grant("laptop", frozenset({"ingest"})),
              auth.Grant("lead", frozenset({"read"})), "old-bare")
    settings = CollectorSettings(storage="/nonexistent/collector.duckdb", tokens=tokens)
    return create_app(settings, recorder).test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", READ_PATHS)
def test_an_ingest_only_key_cannot_read(roles_client, recorder, path):
    response = roles_client.get(path, headers=bearer("laptop"))
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "forbidden" and body["required_role"] == "read"
    assert "laptop" not in response.get_data(as_text=True)
    assert recorder.queries == []


def test_an_ingest_key_sends_and_registers(roles_client, recorder):
    assert roles_client.post("/v1/traces", json=batch(1), headers=bearer("laptop")).status_code == 200
    registration = {"instance_id": "i-1", "platform": "linux"}
    assert roles_client.post("/v1/agents/register", json=registration,
                             headers=bearer("laptop")).status_code == 200
    assert len(recorder.ingested) == 1 and len(recorder.registered) == 1


def test_a_read_only_key_reads_but_cannot_send(roles_client, recorder):
    assert roles_client.get("/v1/agents", headers=bearer("lead")).status_code == 200
    response = roles_client.post("/v1/traces", json=batch(1), headers=bearer("lead"))
    assert response.status_code == 403 and response.get_json()["required_role"] == "ingest"
    assert recorder.ingested == []


def test_a_bare_token_keeps_every_role(roles_client, recorder):
    assert roles_client.get("/v1/usage", headers=bearer("old-bare")).status_code == 200
    assert roles_client.post("/v1/traces", json=batch(1),
                             headers=bearer("old-bare")).status_code == 200


def test_no_route_is_404_for_any_valid_token(roles_client):
    response = roles_client.post("/v1/nothing-here", headers=bearer("laptop"))
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_open_endpoints_stay_open(roles_client):
    assert roles_client.get("/v1/collector/health").status_code == 200
    assert roles_client.get("/.well-known/thinkt.json").status_code == 200


# -- real processes ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_laptop_with_an_ingest_key_ships_and_cannot_read(tmp_path, home):
    token_file = tmp_path / "tokens"
    token_file.write_text("# laptops ship, the lead reads\n"
                          "laptop-key-123 ingest name=laptops\n"
                          "lead-key-456 read name=lead\n")
    os.chmod(token_file, 0o600)
    collector = Collector(tmp_path / "c.duckdb", tmp_path / "c.log", "--token-file",
                          str(token_file)).start()
    try:
        path = session_file(home, "sess-roles")
        path.write_bytes(b"".join(claude_line(f"u-{n}", "sess-roles", f"line {n}")
                                  for n in range(20)))
        done = Exporter(home, tmp_path / "x.log", "--collector-url", collector.url,
                        "--api-key", "laptop-key-123", "--source", "claude").run()
        assert done.returncode == 0, done.stdout + done.stderr
        as_laptop = requests.get(collector.url + "/v1/traces/stats",
                                 headers=bearer("laptop-key-123"), timeout=30)
        assert as_laptop.status_code == 403
        assert as_laptop.json()["error"] == "forbidden"
        as_lead = requests.get(collector.url + "/v1/traces/stats",
                               headers=bearer("lead-key-456"), timeout=30)
        assert as_lead.status_code == 200 and as_lead.json()["total_traces"] == 20
        # The web secret was made in the collector's state directory (HOME/.thinkt here).
        assert (home / ".thinkt" / auth.SECRET_FILE).is_file()
        assert "laptop-key-123" not in collector.log() and "lead-key" not in collector.log()
    finally:
        collector.stop()
