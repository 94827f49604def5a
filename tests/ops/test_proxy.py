"""nginx in front of the collector (etc/nginx/thinkt-collector.conf), run by the real nginx.

Issue 14, item 3: a few clients that send part of a request and wait hold every gunicorn
sync worker, and nobody else is answered. These tests take nginx from Debian's packages
(``apt-get install nginx``; ``.ci/run`` installs it as root) and start it as a process
of their own, with a temporary prefix and configuration, on free loopback ports: never
the system service. Where nginx is missing they skip and say so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from click.testing import CliRunner

from tests.conftest import free_port
from tests.harness import Collector
from tests.tls import TLSPair, make_pair, needs_openssl
from thinkt import config
from thinkt.collector.settings import MAX_BODY, CollectorSettings
from thinkt.exporter.ship import payload
from thinkt.exporter.ship.endpoint import Endpoint, fetch_well_known
from thinkt.exporter.ship.shipper import Result, Shipper

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "etc" / "nginx" / "thinkt-collector.conf"
#: Debian installs nginx in /usr/sbin, which an unprivileged PATH often leaves out.
NGINX = shutil.which("nginx", path=os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
DEBIAN_CONF = Path("/etc/nginx/nginx.conf")

needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run installs "
                          "it when run as root)")

TOKEN = "proxy-test-token-5e2b9c"
HEALTH = "/v1/collector/health"
#: What the shipped file says, and the tests move to free ports.
UPSTREAM = "server 127.0.0.1:4319;"
CERT, KEY = "/etc/thinkt/tls/cert.pem", "/etc/thinkt/tls/key.pem"
#: The attack of issue 14: connections that send part of a request, then wait. A request
#: line cut short, a request line with headers but no blank line, and (what a sync
#: worker also waits for) whole headers with a body that never comes.
PART_REQUESTS = (
    b"GET /v1/collector/hea",
    b"POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n",
    b"POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{\"source\": ",
)
ATTACKERS = 40
#: How long health and ingest may take under the attack, behind nginx.
ANSWER_WITHIN = 1.0
#: How long the control waits for health from a collector under the attack, with no proxy.
CONTROL_WAIT = 3.0


# -- the shipped file, moved to free ports ------------------------------------------------
def directive(text: str, name: str) -> str:
    """Return the value of the one active ``name`` directive in the site file."""
    [value] = re.findall(rf"^\s*{name} ([^;]+);", text, flags=re.M)
    return value


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in {SITE} exactly once"
    return text.replace(old, new)


def enable_tls(site: Path) -> None:
    """Switch ``site`` to HTTPS with the sed line the file's own comments give."""
    [line] = re.findall(r"^#\s+(sed -i .*) /etc/nginx/sites-available/thinkt-collector$",
                        SITE.read_text(), flags=re.M)
    subprocess.run([*shlex.split(line), str(site)], check=True, timeout=30)


def write_site(directory: Path, port: int, upstream: int, tls: TLSPair | None = None,
               **overrides: str) -> Path:
    """Write the shipped site file, listening on 127.0.0.1:``port`` and proxying to
    ``upstream``; with ``tls``, switched to HTTPS with that pair. ``overrides`` replace
    the values of single directives (short timeouts)."""
    site = directory / "thinkt-collector.conf"
    shutil.copy(SITE, site)
    if tls is not None:
        enable_tls(site)
    text = site.read_text()
    if tls is not None:
        text = replace_once(replace_once(text, CERT, str(tls.cert)), KEY, str(tls.key))
    text = replace_once(text, UPSTREAM, f"server 127.0.0.1:{upstream};")
    text, moved = re.subn(r"^(\s*)listen 4318( ssl)?;", rf"\g<1>listen 127.0.0.1:{port}\2;",
                          text, flags=re.M)
    # The tests listen on IPv4 loopback only.
    text, dropped = re.subn(r"^\s*listen \[::\]:4318( ssl)?;.*\n", "", text, flags=re.M)
    assert (moved, dropped) == (1, 1), text
    for name, value in overrides.items():
        text, count = re.subn(rf"^(\s*){name} [^;]+;", rf"\g<1>{name} {value};", text,
                              flags=re.M)
        assert count == 1, name
    site.write_text(text)
    return site


def main_config(prefix: Path, site: Path) -> Path:
    """Write an nginx.conf running ``site`` inside ``http {}``, everything under ``prefix``."""
    # As root, nginx would run its workers as nobody, who cannot enter pytest's 0700
    # directories to write request bodies.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
{temp}
    include {site};
}}
""")
    return conf


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    """Run ``nginx -t`` on ``conf``."""
    return subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True,
                          timeout=30)


@dataclasses.dataclass
class Proxy:
    """A running nginx of this test's own."""

    port: int
    scheme: str
    prefix: Path

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.prefix.glob("*.log")))


@contextlib.contextmanager
def nginx(directory: Path, upstream: int, tls: TLSPair | None = None,
          **overrides: str) -> Iterator[Proxy]:
    """Run nginx in the foreground, proxying to ``upstream``; stop it for sure."""
    prefix = directory / f"nginx-{upstream}-{'tls' if tls else 'plain'}"
    prefix.mkdir()
    port = free_port()
    conf = main_config(prefix, write_site(prefix, port, upstream, tls, **overrides))
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    with open(prefix / "stderr.log", "wb") as out:
        proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    proxy = Proxy(port, "https" if tls else "http", prefix)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, f"nginx exited with {proc.returncode}:\n{proxy.log()}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, f"nginx not listening after 10s:\n{proxy.log()}"
            time.sleep(0.02)
        yield proxy
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# -- the attack and the measurements ------------------------------------------------------
@contextlib.contextmanager
def part_requests(port: int, count: int = ATTACKERS, kinds: tuple[bytes, ...] = PART_REQUESTS,
                  source: str = "127.0.0.1") -> Iterator[list[socket.socket]]:
    """Hold ``count`` connections to ``port`` that each sent part of a request."""
    attackers: list[socket.socket] = []
    try:
        for n in range(count):
            attacker = socket.create_connection(("127.0.0.1", port), timeout=5,
                                                source_address=(source, 0))
            attackers.append(attacker)
            attacker.sendall(kinds[n % len(kinds)])
        yield attackers
    finally:
        for attacker in attackers:
            attacker.close()


def still_waiting(attackers: list[socket.socket]) -> bool:
    """True when no attacker has been answered or dropped: the attack is still on."""
    readable, _, _ = select.select(attackers, [], [], 0)
    return not readable


def timed(call: Callable[[], requests.Response]) -> tuple[float, requests.Response | None]:
    """Return how long ``call`` took, and its response (None when it timed out)."""
    start = time.monotonic()
    try:
        response = call()
    except requests.Timeout:
        response = None
    return time.monotonic() - start, response


def batch(session: str) -> dict[str, Any]:
    return {"source": "claude", "session_id": session, "entries": [
        {"uuid": f"{session}-1", "role": "user", "timestamp": "2026-02-01T10:00:00Z",
         "text": "why does the build fail?"},
        {"uuid": f"{session}-2", "role": "assistant", "timestamp": "2026-02-01T10:00:05Z",
         "text": "The import path is wrong."}]}


def envelope(response: requests.Response) -> dict[str, Any]:
    """The JSON error envelope of ``response`` (failing when it is not one)."""
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) >= {"error", "message"} and isinstance(body["message"], str), body
    return body


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    """A collector on loopback with two sync workers (fewer than the attackers)."""
    base = tmp_path_factory.mktemp("proxied")
    running = Collector(base / "collector.duckdb", base / "collector.log", token=TOKEN,
                        workers=2).start()
    yield running
    running.stop()


# -- the file itself ----------------------------------------------------------------------
def test_the_limits_fit_the_collector_and_the_exporter():
    text = SITE.read_text()
    # The collector's limit exactly: what it takes passes, what it would refuse from
    # Content-Length nginx refuses itself (see the file); every exporter payload fits.
    size = directive(text, "client_max_body_size")
    assert re.fullmatch(r"\d+m", size)
    assert int(size[:-1]) * 1024 * 1024 == MAX_BODY > payload.MAX_BODY
    assert f"larger than the limit of {MAX_BODY} bytes" in text
    # The collector answers, or gunicorn's timeout ends the request, before nginx gives up.
    request_timeout = config.find_setting("collector", "request_timeout").default
    assert int(directive(text, "proxy_read_timeout").rstrip("s")) > request_timeout
    # One exporter at its highest --concurrency fits in the per-address limit.
    concurrency = config.find_setting("exporter", "concurrency").type.max
    assert int(directive(text, "limit_conn").split()[1]) >= concurrency
    assert directive(text, "proxy_request_buffering") == "on"
    assert directive(text, "proxy_buffering") == "on"
    assert directive(text, "proxy_pass") == "http://thinkt_collector"


@needs_nginx
def test_the_shipped_file_passes_nginx_t(tmp_path):
    site = tmp_path / "thinkt-collector.conf"
    shutil.copy(SITE, site)
    checked = nginx_test(main_config(tmp_path, site))
    assert checked.returncode == 0, checked.stderr


@needs_nginx
@needs_openssl
def test_the_file_switched_to_https_by_its_sed_line_passes_nginx_t(tmp_path):
    site = tmp_path / "thinkt-collector.conf"
    shutil.copy(SITE, site)
    enable_tls(site)
    text = site.read_text()
    assert not re.search(r"^\s*#tls ", text, flags=re.M)
    assert re.findall(r"^\s*listen (.*);", text, flags=re.M) == ["4318 ssl", "[::]:4318 ssl"]
    pair = make_pair(tmp_path / "tls")
    site.write_text(text.replace(CERT, str(pair.cert)).replace(KEY, str(pair.key)))
    checked = nginx_test(main_config(tmp_path, site))
    assert checked.returncode == 0, checked.stderr


@needs_nginx
@pytest.mark.skipif(not DEBIAN_CONF.is_file(), reason=f"no {DEBIAN_CONF} (nginx not from "
                                                      "Debian's package)")
def test_the_file_passes_nginx_t_in_debians_own_nginx_conf(tmp_path):
    # Installed as README.rst says: in sites-enabled, beside Debian's default site, inside
    # Debian's http {} (its mime types, gzip, ssl_protocols). Logs and pid go to tmp_path.
    enabled = tmp_path / "sites-enabled"
    enabled.mkdir()
    shutil.copy(SITE, enabled / "thinkt-collector")
    for default in Path("/etc/nginx/sites-enabled").glob("*"):
        (enabled / default.name).symlink_to(default.resolve())
    text = DEBIAN_CONF.read_text()
    text = replace_once(text, "/etc/nginx/sites-enabled/", f"{enabled}/")
    text = re.sub(r"/var/log/nginx/", f"{tmp_path}/", text)
    text = re.sub(r"^pid .*;$", f"pid {tmp_path}/nginx.pid;", text, flags=re.M)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr


def test_the_readme_installs_the_proxy_as_the_files_say():
    readme = (REPO / "README.rst").read_text()
    if "etc/nginx/thinkt-collector.conf" not in readme:
        pytest.skip("README.rst does not install the proxy yet")
    [sed] = re.findall(r"^#\s+(sed -i .*)$", SITE.read_text(), flags=re.M)
    assert sed in readme
    installed = re.findall(r"^\s*install -m 0644 (\S+) ", readme, flags=re.M)
    assert {"etc/nginx/thinkt-collector.conf",
            "systemd/nginx.service.d/thinkt-collector.conf"} <= set(installed)
    for path in installed:
        assert (REPO / path).is_file(), path


# -- the attack ---------------------------------------------------------------------------
@pytest.mark.slow
@needs_nginx
def test_slow_clients_stall_a_bare_collector_but_not_one_behind_nginx(collector, tmp_path):
    # Control: the attack straight at the collector's port is real. Its two workers each
    # read an attacker, and health waits behind them.
    with part_requests(collector.port):
        bare, answer = timed(lambda: requests.get(collector.url + HEALTH,
                                                  timeout=(1, CONTROL_WAIT)))
    assert answer is None, f"health answered in {bare:.2f}s under the attack: it is not real"
    collector.wait_healthy(timeout=30)  # the attackers are gone: the workers are free again

    # The same attack at nginx: health and an authenticated ingest answer while it is on.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with nginx(tmp_path, collector.port) as proxy, part_requests(proxy.port) as attackers:
        health_took, health = timed(lambda: requests.get(proxy.url + HEALTH, timeout=(1, 3)))
        ingest_took, ingest = timed(lambda: requests.post(
            proxy.url + "/v1/traces", json=batch("under-attack"), headers=auth, timeout=(1, 3)))
        assert still_waiting(attackers), "nginx dropped the attackers: nothing was proven"
    assert health is not None and health.status_code == 200, proxy.log()
    assert health_took < ANSWER_WITHIN, f"health took {health_took:.2f}s behind nginx"
    assert ingest is not None and ingest.status_code == 200, ingest and ingest.text
    assert ingest.json()["accepted"] == 2
    assert ingest_took < ANSWER_WITHIN, f"ingest took {ingest_took:.2f}s behind nginx"
    print(f"\nhealth under attack: none within {bare:.2f}s straight at the collector; "
          f"{health_took * 1000:.0f} ms behind nginx (ingest {ingest_took * 1000:.0f} ms)")


@pytest.mark.slow
@needs_nginx
def test_nginx_passes_the_collectors_answers_and_not_a_clients_scheme(collector, tmp_path):
    with nginx(tmp_path, collector.port) as proxy:
        # A body of exactly the collector's limit reaches the collector (which finds it is
        # not JSON); one byte more is refused by nginx, every time, in the envelope. With
        # an 11 MiB limit in nginx the collector's refusal came back as a 502 in 7 runs of
        # 12: it refuses from Content-Length and closes while nginx is still sending.
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        at_limit = requests.post(proxy.url + "/v1/traces", data=b"x" * MAX_BODY,
                                 headers=headers, timeout=30)
        assert at_limit.status_code == 400 and envelope(at_limit)["error"] == "invalid_json"
        for _ in range(3):
            over = requests.post(proxy.url + "/v1/traces", data=b"x" * (MAX_BODY + 1),
                                 headers=headers, timeout=30)
            assert over.status_code == 413, over.text
            assert envelope(over)["error"] == "payload_too_large"
        # No token: the collector's 401, untouched.
        refused = requests.post(proxy.url + "/v1/traces", json=batch("no-token"), timeout=5)
        assert refused.status_code == 401 and envelope(refused)["error"] == "unauthorized"
        # A client cannot make the collector name another URL: to the collector every
        # client is nginx, a loopback peer whose X-Forwarded-* it believes, so nginx sets
        # them all (or drops them).
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on",
                  "X-Forwarded-Protocol": "ssl", "X-Forwarded-Host": "elsewhere.example",
                  "X-Forwarded-Prefix": "/elsewhere"}
        document = requests.get(proxy.url + "/v1/openapi.json", timeout=5, headers=forged)
        assert document.status_code == 200, document.text
        assert document.json()["servers"] == [{"url": proxy.url}]
        well_known = requests.get(proxy.url + "/.well-known/thinkt.json", timeout=5,
                                  headers=forged)
        assert well_known.json() == {"collector_url": proxy.url}


@pytest.mark.slow
@needs_nginx
@needs_openssl
def test_nginx_terminates_tls_and_tells_the_collector(collector, tmp_path, monkeypatch):
    pair = make_pair(tmp_path / "tls")
    with nginx(tmp_path, collector.port, tls=pair) as proxy:
        health = requests.get(proxy.url + HEALTH, verify=str(pair.cert), timeout=5)
        assert health.status_code == 200
        # The collector names the URL the client used, https and nginx's port, where
        # exporters discover it.
        document = requests.get(proxy.url + "/v1/openapi.json", verify=str(pair.cert),
                                timeout=5).json()
        assert document["servers"] == [{"url": proxy.url}]
        # Discovery as an exporter does it (trusting the test's CA the way requests can).
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pair.cert))
        assert fetch_well_known(proxy.url)[0] == proxy.url
        ingest = requests.post(proxy.url + "/v1/traces", json=batch("over-tls"), timeout=5,
                               verify=str(pair.cert),
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert ingest.status_code == 200 and ingest.json()["accepted"] == 2
        plain = requests.get(f"http://127.0.0.1:{proxy.port}{HEALTH}", timeout=5)
        assert plain.status_code == 403 and envelope(plain)["error"] == "forbidden"


@pytest.mark.slow
@needs_nginx
def test_nginx_answers_for_itself_in_the_collectors_envelope(tmp_path):
    # Nothing listens on the upstream port: every answer here is nginx's own.
    with nginx(tmp_path, free_port()) as proxy:
        down = requests.get(proxy.url + HEALTH, timeout=5)
        assert down.status_code == 502 and envelope(down)["error"] == "unavailable"
        assert down.headers["Retry-After"] == "5"
        too_large = requests.post(proxy.url + "/v1/traces", data=b"x" * (12 * 1024 * 1024),
                                  timeout=30)
        assert too_large.status_code == 413
        assert envelope(too_large)["error"] == "payload_too_large"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1 HTTP/1.1\r\n\r\n")
            head, _, body = client.makefile("rb").read().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ") and b"application/json" in head
        assert b'"error": "bad_request"' in body

        # What the exporter makes of them: wait and send again, or split.
        shipper = Shipper(Endpoint(proxy.url + "/v1/traces", TOKEN), attempts=1)
        answer = shipper.post(b"\x1f\x8b")
        assert answer.result is Result.RETRY and answer.retry_after == 5
        assert answer.describe().startswith("HTTP 502 unavailable")
        assert shipper.post(b"x" * (12 * 1024 * 1024)).result is Result.TOO_LARGE
        shipper.close()

        # Requests in progress per address: past 64, 429 at once. Whole headers and a body
        # that never ends count; from an address of their own, so the rest is unaffected.
        limit = int(directive(SITE.read_text(), "limit_conn").split()[1])
        with part_requests(proxy.port, limit + 6, PART_REQUESTS[2:], "127.0.0.3") as held:
            deadline = time.monotonic() + 5
            while len(select.select(held, [], [], 0.1)[0]) < 6 and time.monotonic() < deadline:
                pass
            time.sleep(0.2)  # time for a seventh, wrong, refusal to show
            answers = [s.recv(4096) for s in select.select(held, [], [], 0)[0]]
        assert len(answers) == 6, answers
        for answer_bytes in answers:
            assert answer_bytes.startswith(b"HTTP/1.1 429 ") and b"Retry-After: 5" in answer_bytes
            assert b'"error": "too_many_requests"' in answer_bytes


@pytest.mark.slow
@needs_nginx
def test_nginx_drops_a_half_sent_request_after_its_timeout(tmp_path):
    # The shipped 10 s and 30 s, shortened so the test is quick.
    with nginx(tmp_path, free_port(), client_header_timeout="1s",
               client_body_timeout="1s") as proxy:
        with part_requests(proxy.port, 2, PART_REQUESTS[1:]) as held:
            start = time.monotonic()
            for attacker in held:
                attacker.settimeout(5)
                with pytest.raises(ConnectionResetError):
                    attacker.recv(4096)
            took = time.monotonic() - start
    assert 0.5 < took < 3, took


# -- the warning --------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_a_collector_on_loopback_is_not_warned(host):
    from thinkt.collector.command import exposure_warning

    assert exposure_warning(CollectorSettings(host=host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "collector.example"])
def test_a_collector_beyond_loopback_is_told_why_it_wants_a_proxy(host):
    from thinkt.collector.command import exposure_warning

    warning = exposure_warning(CollectorSettings(host=host, port=4318, workers=8))
    assert warning is not None
    where = f"[{host}]:4318" if ":" in host else f"{host}:4318"
    assert f"listening on {where}" in warning
    assert "8 clients that send a request slowly" in warning
    assert "etc/nginx/thinkt-collector.conf" in warning and "127.0.0.1" in warning
    assert "--behind-proxy" in warning


def test_an_operator_can_say_a_proxy_elsewhere_is_the_only_way_in():
    from thinkt.collector.command import exposure_warning

    assert exposure_warning(CollectorSettings(host="0.0.0.0", behind_proxy=True)) is None


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_thinkt_collect_logs_the_warning_before_it_serves(monkeypatch, tmp_path, host, warned):
    from thinkt.collector import command, server

    served = []
    monkeypatch.setattr(server, "serve", served.append)
    monkeypatch.setattr("thinkt.log.configure", lambda **kwargs: None)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(command.__name__)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        result = CliRunner().invoke(command.collect, [
            "--host", host, "--token", TOKEN, "--storage", str(tmp_path / "c.duckdb")])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert result.exit_code == 0, result.output
    assert len(served) == 1
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert bool(warnings) is warned, warnings
    if warned:
        assert warnings == [command.exposure_warning(served[0])]
