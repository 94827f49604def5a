"""Collector discovery: each step of the cascade, in order, and URL normalisation."""

from __future__ import annotations

import json

import pytest

from thinkt.exporter.ship.endpoint import discover, normalize
from thinkt.status import ConfigError
from tests.conftest import free_port


@pytest.mark.parametrize("url, expected", [
    ("http://h:4318", "http://h:4318/v1/traces"),
    ("http://h:4318/", "http://h:4318/v1/traces"),
    ("https://h/v1/traces", "https://h/v1/traces"),
    ("https://h/v1/traces/", "https://h/v1/traces"),
    ("http://h/thinkt", "http://h/thinkt/v1/traces"),
    ("http://h:4318/v1", "http://h:4318/v1/traces"),
    ("  http://h:4318  ", "http://h:4318/v1/traces"),
])
def test_normalize(url, expected):
    assert normalize(url) == expected


@pytest.mark.parametrize("url", ["h:4318", "ftp://h/", "http://", ""])
def test_normalize_refuses_what_is_not_http(url):
    with pytest.raises(ConfigError):
        normalize(url)


def write_project_file(directory, data):
    (directory / ".thinkt").mkdir(parents=True)
    (directory / ".thinkt" / "collector.json").write_text(json.dumps(data))


def test_an_explicit_url_wins_over_everything(tmp_path, stub):
    write_project_file(tmp_path, {"collector_url": "http://project:1"})
    stub.well_known = {"collector_url": "http://wellknown:1"}
    found = discover(url="https://flag:4318", url_from="flag --collector-url", api_key="k",
                     project_dir=tmp_path, well_known=[stub.url])
    assert (found.url, found.api_key, found.found_by) == \
        ("https://flag:4318/v1/traces", "k", "flag --collector-url")


def test_the_project_file_in_a_parent_comes_next_with_its_key(tmp_path, stub):
    write_project_file(tmp_path, {"collector_url": "https://project:9", "api_key": "pk"})
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    stub.well_known = {"collector_url": "http://wellknown:1"}
    found = discover(project_dir=deep, well_known=[stub.url])
    assert found.url == "https://project:9/v1/traces" and found.api_key == "pk"
    assert found.found_by == f"project file {tmp_path / '.thinkt' / 'collector.json'}"
    # A key from the flag or environment beats the file's.
    assert discover(project_dir=deep, api_key="flagkey").api_key == "flagkey"


def test_a_broken_project_file_is_a_config_error(tmp_path):
    (tmp_path / ".thinkt").mkdir()
    (tmp_path / ".thinkt" / "collector.json").write_text("{nope")
    with pytest.raises(ConfigError, match="cannot read"):
        discover(project_dir=tmp_path)
    (tmp_path / ".thinkt" / "collector.json").write_text('{"api_key": "x"}')
    with pytest.raises(ConfigError, match="no collector_url"):
        discover(project_dir=tmp_path)


def test_the_well_known_document_comes_next(tmp_path, stub):
    dead = f"http://127.0.0.1:{free_port()}"
    stub.well_known = {"collector_url": "https://collector.example:4318"}
    found = discover(project_dir=tmp_path, well_known=[dead, stub.url], api_key="k")
    assert found.url == "https://collector.example:4318/v1/traces"
    assert found.found_by == f"well-known {stub.url}/.well-known/thinkt.json"
    assert found.api_key == "k"


def test_a_relative_well_known_answer_is_relative_to_its_base(tmp_path, stub):
    stub.well_known = {"collector_url": "/"}
    assert discover(project_dir=tmp_path, well_known=[stub.url]).url == stub.url + "/v1/traces"


def test_nothing_found_means_buffer_only_and_says_what_was_tried(tmp_path, stub):
    from tests.conftest import free_port

    stub.well_known = None  # the stub answers 404
    dead = f"http://127.0.0.1:{free_port()}"
    found = discover(project_dir=tmp_path, well_known=[stub.url, dead])
    assert found.url is None and found.found_by == "none"
    assert found.describe() == (
        "No collector found (no --collector-url, THINKT_COLLECTOR_URL or collector_url in "
        f"the config; no .thinkt/collector.json in {tmp_path} or its parents; "
        f"{stub.url}/.well-known/thinkt.json: HTTP 404; "
        f"{dead}/.well-known/thinkt.json: nothing answers): buffering to disk only")


# -- transport (issue 9): the key never travels in the clear off this machine ----------
@pytest.mark.parametrize("url", ["http://collector.example:4318", "http://10.1.2.3:4318",
                                 "http://[2001:db8::1]:4318"])
def test_the_key_is_not_sent_over_plain_http_to_another_host(url):
    with pytest.raises(ConfigError, match="plain HTTP") as err:
        discover(url=url, api_key="secret-key")
    assert "secret-key" not in err.value.message
    assert "--allow-insecure-http" in err.value.hint


@pytest.mark.parametrize("url", ["http://localhost:4318", "http://127.0.0.1:4318",
                                 "http://127.9.9.9:1", "http://[::1]:4318",
                                 "https://collector.example"])
def test_loopback_and_https_are_fine(url):
    assert discover(url=url, api_key="k").api_key == "k"


def test_plain_http_is_fine_without_a_key_or_when_allowed():
    assert discover(url="http://collector.example").url.startswith("http://collector.example")
    allowed = discover(url="http://collector.example", api_key="k", allow_insecure_http=True)
    assert allowed.api_key == "k"


def test_a_private_ca_bundle_is_used_for_verification(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert discover(url="https://c.example").verify is True
    assert discover(url="https://c.example", ca_cert=str(bundle)).verify == str(bundle)
    with pytest.raises(ConfigError, match="does not exist"):
        discover(url="https://c.example", ca_cert=str(tmp_path / "missing.pem"))


def test_the_shipper_verifies_with_the_endpoint_bundle(tmp_path, monkeypatch):
    """On every request: a session's own verify loses to REQUESTS_CA_BUNDLE."""
    import requests

    from thinkt.exporter.ship.shipper import Shipper

    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    endpoint = discover(url="https://c.example", ca_cert=str(bundle))
    sent = []

    def request(session, method, url, **kwargs):
        sent.append((method, kwargs.get("verify")))
        raise requests.ConnectionError("not really sent")

    monkeypatch.setattr(requests.Session, "request", request)
    shipper = Shipper(endpoint, attempts=1)
    shipper.healthy()
    shipper.post(b"{}")
    assert sent == [("GET", str(bundle)), ("POST", str(bundle))]
