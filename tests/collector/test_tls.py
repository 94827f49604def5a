"""HTTPS on the collector: the TLS pair's checks, a real collector serving it, a real export over it.

The certificates are made at test time by ``openssl`` (tests/tls.py); the tests that
need one skip, saying why, where the command is missing.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.exporter.corpus import write_session
from tests.exporter.running import Exporter
from tests.harness import REPO, Collector, child_env, thinkt_command
from tests.tls import (CA_BUNDLE_VARIABLES, OPENSSL, TLSPair, make_pair, needs_openssl,
                       serving)
from thinkt.cli import cli, run
from thinkt.collector.command import build_settings, collect
from thinkt.status import ExitStatus

pytestmark = needs_openssl

TOKEN = "tls-test-token-6d1e0b"
UNIT = REPO / "systemd" / "thinkt-collector.service"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> TLSPair:
    return make_pair(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> TLSPair:
    """Another self-signed pair: its key is not ``pair``'s, its CA not ``pair``'s."""
    return make_pair(tmp_path_factory.mktemp("stranger"))


def check(capsys, *args: str) -> tuple[int, str]:
    """Run ``thinkt collect ARGS --check-config`` as the entry point does; return (status, stderr)."""
    with pytest.raises(SystemExit) as info:
        run(cli, ["collect", *args, "--check-config"], prog_name="thinkt")
    out, err = capsys.readouterr()
    return info.value.code, out + err


# -- the pair's checks (in process) ---------------------------------------------------------


def test_a_pair_that_loads_checks_out_and_settings_carry_absolute_paths(capsys, pair):
    code, output = check(capsys, "--tls-cert", str(pair.cert), "--tls-key", str(pair.key))
    assert code == 0 and "configuration OK" in output, output
    with collect.make_context("collect", ["--tls-cert", str(pair.cert), "--tls-key",
                                          str(pair.key)]) as ctx:
        settings = build_settings(ctx.params)
    assert (settings.tls_cert, settings.tls_key, settings.scheme) == (
        str(pair.cert), str(pair.key), "https")


def test_no_pair_means_plain_http():
    with collect.make_context("collect", []) as ctx:
        settings = build_settings(ctx.params)
    assert (settings.tls_cert, settings.tls_key, settings.scheme) == (None, None, "http")


@pytest.mark.parametrize("given, missing", [("--tls-cert", "--tls-key"),
                                            ("--tls-key", "--tls-cert")])
def test_one_of_the_two_alone_exits_78_naming_the_other(capsys, pair, given, missing):
    path = pair.cert if given == "--tls-cert" else pair.key
    code, output = check(capsys, given, str(path))
    assert code == ExitStatus.CONFIG, output
    assert f"{given} is set but {missing} is not" in output
    assert f"THINKT_TLS_{missing[6:].upper()}" in output  # the hint names every way to set it


def test_a_missing_key_file_exits_78_naming_it(capsys, pair, tmp_path):
    code, output = check(capsys, "--tls-cert", str(pair.cert), "--tls-key",
                         str(tmp_path / "nowhere.pem"))
    assert code == ExitStatus.CONFIG, output
    assert f"cannot read TLS key {tmp_path / 'nowhere.pem'}: No such file" in output


def test_a_key_of_another_certificate_exits_78(capsys, pair, stranger):
    code, output = check(capsys, "--tls-cert", str(pair.cert), "--tls-key", str(stranger.key))
    assert code == ExitStatus.CONFIG, output
    assert f"TLS key {stranger.key} does not belong to the certificate {pair.cert}" in output


def test_files_swapped_or_not_pem_exit_78_saying_which(capsys, pair, tmp_path):
    code, output = check(capsys, "--tls-cert", str(pair.key), "--tls-key", str(pair.cert))
    assert code == ExitStatus.CONFIG and f"TLS certificate {pair.key} holds no PEM " \
        "certificate" in output, output
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    code, output = check(capsys, "--tls-cert", str(pair.cert), "--tls-key", str(junk))
    assert code == ExitStatus.CONFIG and f"TLS key {junk} holds no usable PEM private " \
        "key" in output, output
    assert "Traceback" not in output and "_ssl.c" not in output


def test_a_key_with_a_passphrase_is_refused_without_asking_for_it(capsys, pair, tmp_path):
    locked = tmp_path / "locked.pem"
    subprocess.run([OPENSSL, "pkey", "-in", str(pair.key), "-aes256", "-passout", "pass:x",
                    "-out", str(locked)], check=True, capture_output=True, timeout=30)
    code, output = check(capsys, "--tls-cert", str(pair.cert), "--tls-key", str(locked))
    assert code == ExitStatus.CONFIG, output
    assert "is protected by a passphrase" in output and "openssl pkey" in output


def test_the_pair_comes_from_the_config_file_and_the_environment_too(capsys, monkeypatch, pair,
                                                                     tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[collector]\ntls_cert = "{pair.cert}"\ntls_key = "{pair.key}"\n')
    assert check(capsys, "--config", str(config))[0] == 0
    monkeypatch.setenv("THINKT_TLS_CERT", str(pair.cert))
    code, output = check(capsys)
    assert code == ExitStatus.CONFIG and "--tls-key is not" in output, output


def test_tls_does_not_lift_the_token_rule(capsys, pair):
    tls = ("--tls-cert", str(pair.cert), "--tls-key", str(pair.key))
    code, output = check(capsys, "--host", "0.0.0.0", *tls)
    assert code == ExitStatus.CONFIG and "without a token" in output, output
    assert check(capsys, "--host", "0.0.0.0", "--token", TOKEN, *tls)[0] == 0


# -- what the exporter says when TLS fails (in process, against a thread-hosted server) -----


def failure(monkeypatch, url: str, verify: bool | str = True) -> str:
    """Why one POST from the exporter's shipper to ``url`` failed, as its log would say."""
    from thinkt.exporter.ship.endpoint import Endpoint
    from thinkt.exporter.ship.shipper import Result, Shipper

    for name in CA_BUNDLE_VARIABLES:  # they would replace ``verify`` (see the xfail below)
        monkeypatch.delenv(name, raising=False)
    shipper = Shipper(Endpoint(url + "/v1/traces", TOKEN, "flag", verify=verify), attempts=1,
                      connect_timeout=5, timeout=5)
    try:
        answer = shipper.post(b"{}")
    finally:
        shipper.close()
    assert answer.result is Result.RETRY, answer
    return answer.describe()


def test_an_untrusted_certificate_is_named_with_the_ca_cert_fix(monkeypatch, pair):
    with serving(pair) as port:
        said = failure(monkeypatch, f"https://localhost:{port}")
    assert said == ("TLS certificate rejected: self-signed certificate; for a private or "
                    "self-signed CA pass --ca-cert with its PEM bundle")


def test_a_certificate_for_another_name_says_to_use_that_name(monkeypatch, tmp_path):
    elsewhere = make_pair(tmp_path, "elsewhere.example", ("DNS:elsewhere.example",))
    with serving(elsewhere) as port:
        said = failure(monkeypatch, f"https://localhost:{port}", str(elsewhere.cert))
    assert said.startswith("TLS certificate rejected: Hostname mismatch") and \
        "use the host name the collector's certificate names" in said, said


def test_https_to_a_plain_http_port_says_the_handshake_failed(monkeypatch):
    with serving(None) as port:
        said = failure(monkeypatch, f"https://127.0.0.1:{port}")
    assert said.startswith("TLS handshake failed (") and "serving https://" in said, said
    assert "_ssl.c" not in said and "MaxRetryError" not in said


def status_failure(monkeypatch, url: str) -> str:
    """Why the status pages' client could not reach ``url``, as ``thinkt status`` shows it."""
    from thinkt.tui.client import CollectorClient, CollectorError

    for name in CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    client = CollectorClient(url, TOKEN)
    try:
        with pytest.raises(CollectorError) as failed:
            client.get("/v1/collector/health")
    finally:
        client.close()
    return failed.value.message


def test_the_status_pages_say_what_the_exporter_says_of_tls_failures(monkeypatch, pair):
    with serving(pair) as port:
        untrusted = status_failure(monkeypatch, f"https://localhost:{port}")
    with serving(None) as port:
        plain = status_failure(monkeypatch, f"https://127.0.0.1:{port}")
    assert untrusted.startswith("TLS certificate rejected: self-signed certificate") and \
        "--ca-cert" in untrusted, untrusted
    assert plain.startswith("TLS handshake failed (") and "serving https://" in plain, plain


# -- the README's steps and the unit's drop-in ----------------------------------------------


def readme_block(start: str) -> list[str]:
    """The README's literal-block lines from the one containing ``start`` to the block's end."""
    lines = (REPO / "README.rst").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if start in line and line.startswith("    "))
    block = []
    for line in lines[first:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return block


def test_the_readme_server_steps_make_a_pair_the_collector_accepts(tmp_path):
    # GIVEN the README's server lines that write /etc/thinkt (config, tokens, the pair)
    # and check the configuration, run by sh with /etc/thinkt moved under tmp_path and
    # thinkt-collector run from this checkout (systemd and nginx lines left out)
    block = readme_block("install -d -m 0755 /etc/thinkt")
    steps = [line for line in block if "/etc/thinkt" in line and not line.startswith("curl")
             and "systemd" not in line and "nginx" not in line]
    assert any("openssl req" in line for line in steps)
    assert any("--check-config" in line for line in steps)
    etc = tmp_path / "etc" / "thinkt"
    etc.parent.mkdir()
    collector = shlex.join(thinkt_command("collect"))
    script = "\n".join(line.replace("/etc/thinkt", str(etc)).replace("thinkt-collector ",
                                                                      collector + " ")
                       for line in steps)
    # WHEN they run
    done = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, timeout=120,
                          env=child_env(tmp_path / "home"))
    # THEN the check passes, and the key is the owner's alone
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration OK" in done.stdout
    assert (etc / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    names = subprocess.run([OPENSSL, "x509", "-in", str(etc / "tls" / "cert.pem"), "-noout",
                            "-ext", "subjectAltName"], capture_output=True, text=True,
                           timeout=30).stdout
    assert "DNS:collector.example.com" in names
    # AND the pair also loads in the collector itself (its own TLS, the other option)
    check = subprocess.run([*thinkt_command("collect"), "--check-config", "--config",
                            str(etc / "config.toml"), "--tls-cert", str(etc / "tls" / "cert.pem"),
                            "--tls-key", str(etc / "tls" / "key.pem"), "--token-file",
                            str(etc / "tokens")], capture_output=True, text=True, timeout=60,
                           env=child_env(tmp_path / "home"))
    assert check.returncode == 0 and "configuration OK" in check.stdout, check.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_the_units_tls_drop_in_verifies(tmp_path):
    from tests.ops.test_units import verify

    # The collector's own HTTPS (README: "the unit's comments give the drop-in").
    comment = UNIT.read_text().splitlines()
    first = comment.index("#   [Service]")
    drop_in = [line[4:] for line in comment[first:] if line.startswith("#   ")]
    assert any(line.startswith("LoadCredential=tls-key:") for line in drop_in)
    assert "the unit's comments give the drop-in" in " ".join(
        (REPO / "README.rst").read_text().split())
    shutil.copy(UNIT, tmp_path / UNIT.name)
    (tmp_path / f"{UNIT.name}.d").mkdir()
    (tmp_path / f"{UNIT.name}.d" / "tls.conf").write_text("\n".join(drop_in) + "\n")
    assert verify([tmp_path / UNIT.name], tmp_path, user=False) == []
    # The drop-in's variables are the collector's own settings.
    names = re.findall(r"(THINKT_\w+)=%d/", "\n".join(drop_in))
    assert sorted(names) == ["THINKT_TLS_CERT", "THINKT_TLS_KEY"]


# -- real processes -------------------------------------------------------------------------


class TLSCollector(Collector):
    """A real ``thinkt collect --tls-cert --tls-key``, addressed by the certificate's name."""

    def __init__(self, storage: Path, log_path: Path, pair: TLSPair, **kwargs):
        super().__init__(storage, log_path, "--tls-cert", str(pair.cert), "--tls-key",
                         str(pair.key), **kwargs)
        self.url = f"https://localhost:{self.port}"
        self.ca = pair.cert

    @contextlib.contextmanager
    def _trusting(self):
        # The harness's requests calls verify with the environment's bundle: make it ours.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REQUESTS_CA_BUNDLE", str(self.ca))
            patch.delenv("CURL_CA_BUNDLE", raising=False)
            yield

    def wait_healthy(self, timeout: float = 60.0) -> None:
        with self._trusting():
            super().wait_healthy(timeout)

    def get(self, path: str, **kwargs):
        with self._trusting():
            return super().get(path, **kwargs)


@pytest.fixture(scope="module")
def tls_collector(tmp_path_factory, pair):
    work = tmp_path_factory.mktemp("collector")
    running = TLSCollector(work / "collector.duckdb", work / "collector.log", pair,
                           token=TOKEN, workers=1)
    try:
        yield running.start()
    finally:
        running.stop()


def exporter(home: Path, log: Path, collector: TLSCollector, *args: str) -> Exporter:
    """A one-shot ``thinkt export`` to the TLS collector, trusting only what ARGS say."""
    proc = Exporter(home, log, "--collector-url", collector.url, "--api-key", TOKEN, *args)
    # requests lets these beat a session's own CA bundle, --ca-cert included (see the
    # xfail below): the test must not depend on the machine's settings.
    for name in CA_BUNDLE_VARIABLES:
        proc.env.pop(name, None)
    return proc


@pytest.mark.slow
def test_the_collector_answers_https_with_its_certificate_and_refuses_plain_http(
        tls_collector, pair, stranger):
    served = ssl.get_server_certificate(("127.0.0.1", tls_collector.port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(pair.cert.read_text())
    answer = requests.get(tls_collector.url + "/v1/collector/health", verify=str(pair.cert),
                          timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_collector.url + "/v1/collector/health", verify=str(stranger.cert),
                     timeout=10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_collector.port}/v1/collector/health", timeout=10)
    assert f"collector listening on https://127.0.0.1:{tls_collector.port}" in \
        tls_collector.log()
    # Still serving after the plain-HTTP attempt.
    assert tls_collector.get("/v1/collector/health").status_code == 200


@pytest.mark.slow
def test_export_says_an_untrusted_certificate_is_the_problem_then_ships_with_ca_cert(
        tls_collector, pair, home, tmp_path):
    # GIVEN a session on the laptop, and a collector whose certificate is self-signed
    uuids = write_session(home, "tls-session", 6)
    # WHEN the exporter does not know the CA
    refused = exporter(home, tmp_path / "refused.log", tls_collector).run()
    # THEN it says why in one line, keeps the entries in its buffer, and stores nothing
    assert refused.returncode == 0, refused.stderr
    assert "TLS certificate rejected: self-signed certificate" in refused.stderr
    assert "--ca-cert" in refused.stderr
    assert "Traceback" not in refused.stderr and "_ssl.c" not in refused.stderr
    assert "Buffered: 6 new entries" in refused.stdout
    assert tls_collector.get("/v1/sessions/tls-session/entries").status_code == 404
    # WHEN it is given the certificate as its CA
    shipped = exporter(home, tmp_path / "shipped.log", tls_collector, "--ca-cert",
                       str(pair.cert)).run()
    # THEN the buffered entries reach the collector, over https, each once
    assert shipped.returncode == 0, shipped.stderr
    assert "Collector https://localhost:" in shipped.stdout
    rows = tls_collector.get("/v1/sessions/tls-session/entries", params={"limit": 100}).json()
    assert sorted(row["uuid"] for row in rows) == uuids


@pytest.mark.slow
def test_ca_cert_wins_over_a_ca_bundle_in_the_environment(tls_collector, pair, stranger,
                                                          monkeypatch):
    from thinkt.exporter.ship.endpoint import Endpoint
    from thinkt.exporter.ship.shipper import Shipper

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stranger.cert))
    endpoint = Endpoint(tls_collector.url + "/v1/traces", TOKEN, "flag", verify=str(pair.cert))
    shipper = Shipper(endpoint)
    try:
        assert shipper.healthy()
    finally:
        shipper.close()


def status(home: Path, collector: TLSCollector, *args: str, **env: str):
    done = subprocess.run(thinkt_command("status", "--collector-url", collector.url,
                                         "--api-key", TOKEN, *args),
                          capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in child_env(home, **env).items()
                               if k not in CA_BUNDLE_VARIABLES or k in env})
    return done


@pytest.mark.slow
def test_status_reaches_an_https_collector_through_the_environments_ca_bundle(
        tls_collector, pair, home):
    done = status(home, tls_collector, REQUESTS_CA_BUNDLE=str(pair.cert))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Status:\s+up", done.stdout), done.stdout


@pytest.mark.slow
def test_status_takes_ca_cert(tls_collector, pair, home):
    done = status(home, tls_collector, "--ca-cert", str(pair.cert))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_a_real_collector_with_a_wrong_pair_exits_78_before_listening(pair, stranger, tmp_path):
    done = subprocess.run(thinkt_command("collect", "--port", str(free_port()), "--storage",
                                         str(tmp_path / "c.duckdb"), "--tls-cert",
                                         str(pair.cert), "--tls-key", str(stranger.key)),
                          capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == ExitStatus.CONFIG, done.stderr
    assert done.stderr.startswith("Error: TLS key ") and "does not belong" in done.stderr
    assert not (tmp_path / "c.duckdb").exists()


@pytest.mark.slow
def test_the_dockerfile_health_probe_speaks_https_when_the_collector_does(tls_collector, pair,
                                                                           tmp_path):
    dockerfile = (REPO / "etc" / "docker" / "Dockerfile").read_text()
    probe = json.loads(re.search(r"^\s+CMD (\[.*\])$", dockerfile, flags=re.M).group(1))
    assert probe[0] == "python3"
    env = {**child_env(tmp_path), "THINKT_PORT": str(tls_collector.port)}

    def health(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *probe[1:]], capture_output=True, text=True,
                              timeout=30, env={**env, **extra})

    assert health(THINKT_TLS_CERT=str(pair.cert)).returncode == 0
    assert health().returncode != 0  # plain http to the TLS port is not "healthy"
