"""Who may see the pages: sign-in with a read token, the cookie, sign-out, forgery checks."""

from __future__ import annotations

import base64
import json
import logging
import zlib

from tests.web.conftest import LOADER, READER, SECRET, csrf_of, make_app, sign_in
from thinkt.collector import auth
from thinkt.collector.web import SESSION_LIFETIME, signin

PAGES = ["/", "/usage", "/usage.csv", "/sessions", "/sessions/s-1", "/search?q=x", "/agents"]


def cookie_of(client):
    return client.get_cookie("thinkt_session")


def session_data(value: str) -> dict:
    """What Flask's signed cookie carries (signed, not encrypted: anyone can read it)."""
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    return json.loads(raw)


def test_every_page_sends_a_stranger_to_sign_in_and_back(browser):
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/signin?next=")
    response = sign_in(browser, next_path="/agents")
    assert response.status_code == 302 and response.headers["Location"] == "/agents"
    assert browser.get("/agents").status_code == 200


def test_the_cookie_holds_the_fingerprint_never_the_token(browser, app):
    sign_in(browser)
    cookie = cookie_of(browser)
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    data = session_data(cookie.value)
    assert data["fp"] == app.extensions["thinkt.keyring"].fingerprint(READER)
    assert READER not in json.dumps(data) and READER not in cookie.value


def test_the_cookie_is_secure_under_https(client_of_store):
    app = make_app(client_of_store, tls_cert="/x/cert.pem", tls_key="/x/key.pem")
    browser = app.test_client()
    sign_in(browser)
    assert cookie_of(browser).secure


def test_an_ingest_only_token_is_refused_with_a_reason(browser):
    response = sign_in(browser, LOADER)
    assert response.status_code == 403
    assert "may not read" in response.text and "read role" in response.text
    assert "fp" not in session_data(cookie_of(browser).value)
    assert browser.get("/").status_code == 302


def test_an_unknown_token_is_refused_and_not_echoed(browser):
    response = sign_in(browser, "wrong-token-value")
    assert response.status_code == 401 and "not a token of this collector" in response.text
    assert "wrong-token-value" not in response.text


def test_sign_out_ends_the_session_even_for_a_copied_cookie(browser, app, tmp_path):
    sign_in(browser)
    copied = cookie_of(browser).value
    page = browser.get("/")
    response = browser.post("/signout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert browser.get("/").status_code == 302
    assert "signed out" in browser.get("/signin?out=1").text
    thief = app.test_client()
    thief.set_cookie("thinkt_session", copied)
    assert thief.get("/").status_code == 302  # the copy opens nothing either
    # Another sign-in works as before.
    sign_in(browser)
    assert browser.get("/").status_code == 200


def test_a_removed_token_or_a_lost_role_ends_its_sessions(browser, client_of_store):
    sign_in(browser)
    value = cookie_of(browser).value
    for tokens in [(auth.Grant("another-token", frozenset({"read"})),),
                   (auth.Grant(READER, frozenset({"ingest"})),)]:
        restarted = make_app(client_of_store, tokens=tokens).test_client()
        restarted.set_cookie("thinkt_session", value)
        assert restarted.get("/").status_code == 302


def test_a_session_lasts_twelve_hours(browser, monkeypatch):
    sign_in(browser)
    assert browser.get("/").status_code == 200
    later = signin.time.time() + SESSION_LIFETIME.total_seconds() + 1
    monkeypatch.setattr(signin.time, "time", lambda: later)
    assert browser.get("/").status_code == 302


def test_posts_need_the_form_token_and_this_origin(browser):
    browser.get("/signin")
    response = browser.post("/signin", data={"token": READER})
    assert response.status_code == 400 and "form has expired" in response.text
    page = browser.get("/signin")
    response = browser.post("/signin", data={"token": READER, "csrf": csrf_of(page.text)},
                            headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "another site" in response.text
    response = browser.post("/signin", data={"token": READER, "csrf": csrf_of(page.text)},
                            headers={"Origin": "http://localhost"})
    assert response.status_code == 302


def test_next_never_leaves_this_site(app):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = sign_in(app.test_client(), next_path=target)
        assert response.headers["Location"] == "/", target


def test_the_cookie_does_not_open_the_api_nor_a_token_the_pages(signed_in):
    assert signed_in.get("/v1/usage").status_code == 401
    stranger = make_app(signed_in.application.extensions["thinkt.client"]).test_client()
    response = stranger.get("/", headers={"Authorization": f"Bearer {READER}"})
    assert response.status_code == 302


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def test_no_token_reaches_a_log_or_a_url(browser):
    # A handler of our own: an earlier test may have configured thinkt's loggers not to
    # propagate to the root logger (where caplog listens).
    lines, web = Lines(), logging.getLogger("thinkt.collector.web")
    web.addHandler(lines)
    level = web.level
    web.setLevel(logging.DEBUG)  # setLevel, not .level: it clears the loggers' caches
    try:
        sign_in(browser, LOADER)
        response = sign_in(browser)
        browser.get("/")
    finally:
        web.removeHandler(lines)
        web.setLevel(level)
    text = "\n".join(lines.lines)
    assert "team-lead" in text and "laptops" in text  # the tokens' names are logged
    assert READER not in text and LOADER not in text
    assert READER not in response.headers["Location"]


def test_a_collector_without_tokens_has_open_pages(client_of_store):
    app = make_app(client_of_store, tokens=(), web_secret=b"")
    browser = app.test_client()
    assert browser.get("/").status_code == 200
    assert browser.get("/signin").status_code == 302
    assert "Sign out" not in browser.get("/").text


def test_without_a_web_secret_sign_in_says_why(client_of_store):
    browser = make_app(client_of_store, web_secret=b"").test_client()
    assert browser.get("/").status_code == 302
    response = browser.get("/signin")
    assert response.status_code == 503 and "no web secret" in response.text


def test_the_secret_is_the_states(app):
    assert app.secret_key == SECRET
