"""Collector discovery: each step of the cascade, in order, and URL normalisation."""

from __future__ import annotations

import json

import pytest

from thinkt.exporter.discovery import discover, normalize
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
    found = discover(url="http://flag:4318", url_from="flag --collector-url", api_key="k",
                     project_dir=tmp_path, well_known=[stub.url])
    assert (found.url, found.api_key, found.found_by) == \
        ("http://flag:4318/v1/traces", "k", "flag --collector-url")


def test_the_project_file_in_a_parent_comes_next_with_its_key(tmp_path, stub):
    write_project_file(tmp_path, {"collector_url": "http://project:9", "api_key": "pk"})
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    stub.well_known = {"collector_url": "http://wellknown:1"}
    found = discover(project_dir=deep, well_known=[stub.url])
    assert found.url == "http://project:9/v1/traces" and found.api_key == "pk"
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
    stub.well_known = {"collector_url": "http://collector.example:4318"}
    found = discover(project_dir=tmp_path, well_known=[dead, stub.url], api_key="k")
    assert found.url == "http://collector.example:4318/v1/traces"
    assert found.found_by == f"well-known {stub.url}/.well-known/thinkt.json"
    assert found.api_key == "k"


def test_a_relative_well_known_answer_is_relative_to_its_base(tmp_path, stub):
    stub.well_known = {"collector_url": "/"}
    assert discover(project_dir=tmp_path, well_known=[stub.url]).url == stub.url + "/v1/traces"


def test_nothing_found_means_buffer_only(tmp_path, stub):
    stub.well_known = None  # the stub answers 404
    found = discover(project_dir=tmp_path, well_known=[stub.url])
    assert found.url is None and found.found_by == "none"
    assert "buffering to disk only" in found.describe()
