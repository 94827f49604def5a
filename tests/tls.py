"""Self-signed TLS pairs for tests (made at test time by ``openssl``), and a tiny server using one.

The ``cryptography`` package is not a dependency of thinkt, so the pair comes from
the same one-line ``openssl req`` the README gives operators; where ``openssl`` is
missing, tests that need a pair skip and say why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

OPENSSL = shutil.which("openssl")

needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not installed; it makes the test "
                            "certificates (the cryptography package is not a dependency)")

#: Environment variables that make requests trust another CA bundle than the one asked for.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclasses.dataclass(frozen=True)
class TLSPair:
    """A certificate and its key, both PEM files; the certificate is its own CA."""

    cert: Path
    key: Path


def make_pair(directory: Path, name: str = "localhost",
              alt_names: tuple[str, ...] = ("DNS:localhost", "IP:127.0.0.1"),
              days: int = 2) -> TLSPair:
    """Write ``cert.pem`` and ``key.pem`` (a P-256 key, no passphrase) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pair = TLSPair(directory / "cert.pem", directory / "key.pem")
    done = subprocess.run(
        [OPENSSL or "openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", str(days),
         "-subj", f"/CN={name}", "-addext", "subjectAltName=" + ",".join(alt_names),
         "-keyout", str(pair.key), "-out", str(pair.cert)],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    pair.key.chmod(0o600)
    return pair


@contextlib.contextmanager
def serving(pair: TLSPair | None) -> Iterator[int]:
    """A thread-hosted HTTP server answering ``200 {}`` (over TLS with ``pair``); yield its port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _answer(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if pair is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pair.cert, pair.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
