"""Throughput without giving anything up: every sender busy, no work twice per payload.

A drain and a one-shot export keep ``concurrency`` POSTs in flight together (the stub
holds each POST until that many are there, a bounded wait that fails the test when
the exporter sends them one at a time); a buffered payload is checked against the
entry count its name records instead of being decompressed and parsed to count it;
the shipper looks up the environment (proxies, CA bundle) once per session, not on
every POST.
"""

from __future__ import annotations

import threading

import requests

from tests.exporter.conftest import write_lines
from tests.exporter.test_export_once import Said, ids, run
from thinkt.exporter import oneshot
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.buffer import SUFFIX, DiskBuffer
from thinkt.exporter.ship.endpoint import Endpoint
from thinkt.exporter.ship.shipper import Result, Shipper
from thinkt.status import ExitStatus

#: How long the stub holds a POST waiting for the others (a bound, never a duration
#: the test measures): a serial sender fails the test after it.
HOLD = 10.0


class InFlight:
    """A stub responder: holds each POST until ``parties`` are in flight together.

    Once they have been, every POST goes straight through. ``most`` is the largest
    number seen in flight at once; ``together`` says whether ``parties`` ever were.
    """

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.now = 0
        self.most = 0
        self.together = False
        self.cond = threading.Condition()

    def __call__(self, body: dict):
        with self.cond:
            self.now += 1
            self.most = max(self.most, self.now)
            if self.now >= self.parties:
                self.together = True
                self.cond.notify_all()
            self.cond.wait_for(lambda: self.together, timeout=HOLD)
            self.now -= 1
        return None  # the stub stores the payload and answers 200


def buffer_of(options) -> DiskBuffer:
    return DiskBuffer(options.buffer_dir, options.buffer_max).open()


def exported_while_down(stub, make_options, **overrides):
    """Export what the fake root holds with the stub stopped (all of it is buffered),
    then start the stub again; return the options."""
    options = make_options(stub.url, **overrides)
    stub.stop()
    run(options)
    stub.start()
    return options


def sessions(fake_root, count: int) -> None:
    """Write ``count`` sessions of five lines each (one payload each)."""
    for number in range(count):
        write_lines(fake_root.path / f"s{number}.jsonl", ids(f"s{number}-", 5),
                    session=f"s{number}")


def test_a_flush_keeps_concurrency_posts_in_flight(stub, fake_root, make_options):
    sessions(fake_root, 12)
    options = exported_while_down(stub, make_options, concurrency=4)
    assert buffer_of(options).files == 12
    gate = InFlight(4)
    stub.responder = gate
    said = Said()
    assert oneshot.flush(options, said) == ExitStatus.OK, said.text
    assert gate.together and gate.most == 4
    assert buffer_of(options).files == 0
    assert len(stub.uuids()) == 60 and stub.resent() == {}


def test_a_one_shot_export_keeps_concurrency_posts_in_flight(stub, fake_root, make_options):
    sessions(fake_root, 12)
    gate = InFlight(4)
    stub.responder = gate
    code, said = run(make_options(stub.url, concurrency=4))
    assert code == ExitStatus.OK, said.text
    assert gate.together and gate.most == 4
    assert len(stub.uuids()) == 60 and stub.resent() == {}


def test_a_buffered_payload_is_counted_by_its_name(stub, fake_root, make_options,
                                                   monkeypatch):
    write_lines(fake_root.path / "a.jsonl", ids("a", 150))  # two payloads: 100 and 50
    options = exported_while_down(stub, make_options)
    names = buffer_of(options).names()
    assert sorted(DiskBuffer.entries(name) for name in names) == [50, 100]

    def parsed(body):
        raise AssertionError("a drained payload was decompressed to count its entries")

    monkeypatch.setattr(payloads, "count_entries", parsed)
    assert oneshot.flush(options, Said()) == ExitStatus.OK
    assert stub.uuids() == set(ids("a", 150)) and stub.resent() == {}


def test_a_payload_buffered_by_an_older_version_is_counted_by_its_body(stub, fake_root,
                                                                      make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 30))
    options = exported_while_down(stub, make_options)
    [name] = buffer_of(options).names()
    stamp, pid, _entries = name[: -len(SUFFIX)].split("-")
    old = f"{stamp}-{pid}{SUFFIX}"  # the name before it recorded the count
    (options.buffer_dir / name).rename(options.buffer_dir / old)
    assert DiskBuffer.entries(old) is None
    assert oneshot.flush(options, Said()) == ExitStatus.OK
    assert stub.uuids() == set(ids("a", 30))
    assert buffer_of(options).files == 0


def test_the_shipper_reads_the_environment_once_per_session(stub, monkeypatch):
    calls = []
    real = requests.sessions.get_environ_proxies

    def counted(url, no_proxy=None):
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    shipper = Shipper(Endpoint(stub.url + "/v1/traces"), attempts=1)
    body = payloads.encode({"source": "fake", "session_id": "s", "entries": [
        {"uuid": "u", "role": "user"}]})
    for _ in range(5):
        assert shipper.post(body).result is Result.SHIPPED
    assert shipper.healthy()
    assert len(calls) == 1


def test_proxy_variables_still_route_the_posts(stub, monkeypatch):
    # The stub stands in for the proxy: it sees the collector's URL in absolute form.
    monkeypatch.setenv("HTTP_PROXY", stub.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    shipper = Shipper(Endpoint("http://collector.invalid:4318/v1/traces"), attempts=1)
    shipper.post(payloads.encode({"source": "fake", "session_id": "s", "entries": []}))
    assert [r["path"] for r in stub.requests] == ["http://collector.invalid:4318/v1/traces"]


def test_a_ca_bundle_variable_applies_unless_the_endpoint_names_its_own(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "env.pem"))
    system = Shipper(Endpoint("https://c.example/v1/traces"))
    assert system._session().verify == str(tmp_path / "env.pem")
    own = Shipper(Endpoint("https://c.example/v1/traces", verify=str(tmp_path / "ca.pem")))
    assert own._session().verify == str(tmp_path / "ca.pem")
