"""A fault-injecting HTTP proxy for tests: a thread-hosted server in front of a real collector.

Each request is answered as a *script* says: forwarded to the upstream collector, or
answered with a fault instead, and the proxy records what it did, so a test can check
that the fault it meant to inject really happened::

    proxy = FaultProxy(collector.url, Always(UNAVAILABLE)).start()
    ...  # point the exporter at proxy.url
    proxy.play(For(75, Always(UNAVAILABLE)))  # 503 for 75 s from now, then forward
    proxy.play(Always(FORWARD))  # healed
    assert proxy.count("503", path="/v1/traces") > 3, proxy.summary()
    proxy.close()

Faults (:class:`Action` kinds):

- ``forward``: pass the request on and relay the collector's answer;
- ``503``: answer ``503 unavailable`` in the collector's JSON shape, with or without
  ``Retry-After`` (:data:`UNAVAILABLE`, :func:`unavailable`);
- ``reset``: read the request, then reset the connection (RST, no answer);
- ``forward-reset``: forward the request (the collector commits it), then reset the
  connection instead of answering: the sender cannot know it was stored;
- ``delay``: wait ``delay`` seconds, then forward (a sender that timed out meanwhile
  still gets its payload committed);
- ``html``: answer ``200 text/html`` with a web page (a wrong port, a proxy's default page);
- ``hang``: accept the request and never answer (until the proxy is closed).

A script is any callable ``(Request) -> Action``. :class:`Always`, :class:`For` and the
seeded :class:`Flaky` cover the usual cases; :meth:`FaultProxy.play` swaps scripts while
requests flow. Requests whose path is not in ``faulted`` are always forwarded.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable
from urllib.parse import urlsplit

#: Headers passed on in each direction (hop-by-hop ones are the proxy's own business).
REQUEST_HEADERS = ("Content-Type", "Content-Encoding", "Authorization", "User-Agent", "Accept")
RESPONSE_HEADERS = ("Content-Type", "Retry-After", "WWW-Authenticate")
#: How long a forwarded request may take upstream before the proxy answers 502.
UPSTREAM_TIMEOUT = 60.0
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n"
             b"<body><h1>Welcome to nginx!</h1><p>If you see this page, the web server is "
             b"successfully installed and working.</p></body></html>\n")


@dataclasses.dataclass(frozen=True)
class Action:
    """What the proxy does with one request."""

    kind: str  # forward, 503, reset, forward-reset, delay, html, hang
    retry_after: str | None = None  # for 503: the Retry-After header, if any
    delay: float = 0.0  # for delay: seconds before forwarding

    def __str__(self) -> str:
        if self.kind == "503" and self.retry_after is not None:
            return f"503 Retry-After {self.retry_after}"
        if self.kind == "delay":
            return f"delay {self.delay:.1f}s"
        return self.kind


FORWARD = Action("forward")
UNAVAILABLE = Action("503")
RESET = Action("reset")
FORWARD_RESET = Action("forward-reset")
HTML = Action("html")
HANG = Action("hang")
KINDS = ("forward", "503", "reset", "forward-reset", "delay", "html", "hang")


def unavailable(retry_after: float | None = None) -> Action:
    """A 503 answer, with ``Retry-After: <seconds>`` when given."""
    return Action("503", None if retry_after is None else str(int(retry_after)))


def delayed(seconds: float) -> Action:
    """Forward after ``seconds``."""
    return Action("delay", delay=seconds)


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as the script sees it."""

    method: str
    path: str  # without the query string
    body: bytes  # as sent (gzip for traces)
    at: float  # seconds since the proxy started


@dataclasses.dataclass
class Event:
    """What the proxy did with one request: the record tests check.

    Recorded when the action is chosen (a hung request shows at once), completed when
    the proxy is done with it.
    """

    at: float  # seconds since the proxy started, when the request arrived
    method: str
    path: str
    action: Action
    session: str | None  # for POST /v1/traces: the payload's session and entry count
    entries: int
    digest: str  # a short hash of the body: the same buffered payload sent again matches
    status: int | None = None  # what the client was answered; None: reset, hung, gone away
    upstream: int | None = None  # the collector's status when forwarded (502: unreachable)
    done: bool = False  # False while the proxy still holds the request (delay, hang)


Script = Callable[[Request], Action]


class Always:
    """The same action for every request."""

    def __init__(self, action: Action):
        self.action = action

    def __call__(self, request: Request) -> Action:
        return self.action


class For:
    """``script`` for ``seconds`` from when it is played (its first request), then ``then``."""

    def __init__(self, seconds: float, script: Script, then: Script | None = None):
        self.seconds = seconds
        self.script = script
        self.then = then or Always(FORWARD)
        self.started: float | None = None  # monotonic; set by FaultProxy.play
        self.ended: float | None = None

    def begin(self) -> None:
        self.started = time.monotonic()

    @property
    def over(self) -> bool:
        """True once the time is up."""
        return self.started is not None and time.monotonic() >= self.started + self.seconds

    def __call__(self, request: Request) -> Action:
        if self.started is None:
            self.begin()
        if self.over:
            return self.then(request)
        return self.script(request)


class Flaky:
    """A seeded random fault per request: 503s (half with Retry-After), resets, delays, ...

    ``rate`` is the share of requests that get a fault; ``weights`` how the faults are
    shared out. The choices come from ``random.Random(seed)`` in request order, so a
    seed replays the same sequence of answers (which request gets which still depends
    on the sender's timing). ``storm(seconds)`` makes every request fail for a while.
    """

    DEFAULT_WEIGHTS = {"503": 3, "503-retry-after": 2, "reset": 2, "forward-reset": 2,
                       "delay": 2}

    def __init__(self, seed: int, rate: float = 0.4, weights: dict[str, float] | None = None,
                 delays: tuple[float, float] = (0.2, 3.0)):
        self.rng = random.Random(seed)
        self.rate = rate
        self.weights = dict(weights or self.DEFAULT_WEIGHTS)
        self.delays = delays
        self._lock = threading.Lock()
        self._storm_until = 0.0

    def storm(self, seconds: float) -> None:
        """Fail every request (503 or reset) for ``seconds`` from now."""
        with self._lock:
            self._storm_until = time.monotonic() + seconds

    def __call__(self, request: Request) -> Action:
        with self._lock:
            rate = 1.0 if time.monotonic() < self._storm_until else self.rate
            if self.rng.random() >= rate:
                return FORWARD
            kinds = list(self.weights)
            if rate == 1.0:
                kinds = [k for k in kinds if k in ("503", "503-retry-after", "reset")]
            kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            if kind == "503":
                return UNAVAILABLE
            if kind == "503-retry-after":
                return unavailable(self.rng.choice((0, 1, 2)))
            if kind == "delay":
                return delayed(self.rng.uniform(*self.delays))
            return Action(kind)


class FaultProxy:
    """An HTTP server on a free loopback port that forwards to ``upstream`` or injects faults."""

    def __init__(self, upstream: str, script: Script | None = None, *,
                 faulted: Iterable[str] | None = None):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faulted = None if faulted is None else frozenset(faulted)
        self._script = script or Always(FORWARD)
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self.port = 0

    # -- life cycle --------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FaultProxy":
        """Listen on a free port and serve on a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._started = time.monotonic()
        self._begin(self._script)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="fault-proxy")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and release every hung request (their connections close)."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def play(self, script: Script) -> None:
        """Answer the next requests as ``script`` says (a :class:`For` starts its clock now)."""
        self._begin(script)
        with self._lock:
            self._script = script

    @staticmethod
    def _begin(script: Script) -> None:
        if isinstance(script, For) and script.started is None:
            script.begin()

    def now(self) -> float:
        """Seconds since the proxy started (the clock of :attr:`Event.at`)."""
        return time.monotonic() - self._started

    # -- the record --------------------------------------------------------------------

    def events(self, action: str | None = None, path: str | None = None,
               since: float | None = None) -> list[Event]:
        """The recorded events, optionally of one action kind, path, or from ``since`` on."""
        with self._lock:
            events = list(self._events)
        return [e for e in events if (action is None or e.action.kind == action)
                and (path is None or e.path == path) and (since is None or e.at >= since)]

    def count(self, action: str | None = None, path: str | None = None,
              since: float | None = None) -> int:
        """How many requests got ``action`` (any, by default) on ``path`` (any)."""
        return len(self.events(action, path, since))

    def summary(self) -> str:
        """One line: how many requests got each action, e.g. ``forward 120, 503 31, reset 4``."""
        counts = Counter(str(e.action) if e.action.kind != "delay" else "delay"
                         for e in self.events())
        return ", ".join(f"{kind} {n}" for kind, n in counts.most_common()) or "no requests"

    def _record(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def _choose(self, request: Request) -> Action:
        if self.faulted is not None and request.path not in self.faulted:
            return FORWARD
        with self._lock:
            script = self._script
        return script(request)

    # -- forwarding --------------------------------------------------------------------

    def _forward(self, method: str, target: str, headers: dict, body: bytes,
                 ) -> tuple[int, dict, bytes]:
        """Send the request upstream; a collector that cannot be reached gives a 502."""
        connection = http.client.HTTPConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = {k: response.getheader(k) for k in RESPONSE_HEADERS if response.getheader(k)}
            return response.status, kept, data
        except (OSError, http.client.HTTPException) as exc:
            error = {"error": "bad_gateway", "message": f"fault proxy: upstream failed: {exc}"}
            return 502, {"Content-Type": "application/json"}, json.dumps(error).encode()
        finally:
            connection.close()


def _payload_facts(path: str, headers, body: bytes) -> tuple[str | None, int]:
    """The session id and entry count of a traces payload (None, 0 when not one)."""
    if path != "/v1/traces" or not body:
        return None, 0
    try:
        raw = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
        payload = json.loads(raw)
        return payload.get("session_id"), len(payload.get("entries") or ())
    except (OSError, ValueError, AttributeError, TypeError):
        return None, 0


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests.Session uses

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            request = Request(self.command, path, body, proxy.now())
            action = proxy._choose(request)
            session, entries = _payload_facts(path, self.headers, body)
            event = Event(request.at, self.command, path, action, session, entries,
                          hashlib.sha1(body).hexdigest()[:12])
            proxy._record(event)
            try:
                event.status, event.upstream = self._act(action, body)
            finally:
                event.done = True

        def _act(self, action: Action, body: bytes) -> tuple[int | None, int | None]:
            """Carry out ``action``; return (status answered, upstream status)."""
            kind = action.kind
            if kind == "hang":
                proxy._closing.wait()
                self.close_connection = True
                return None, None
            if kind == "reset":
                self._reset()
                return None, None
            if kind == "503":
                headers = {"Retry-After": action.retry_after} if action.retry_after else {}
                error = {"error": "unavailable", "message": "fault proxy: try again later"}
                return self._answer(503, json.dumps(error).encode(),
                                    dict(headers, **{"Content-Type": "application/json"})), None
            if kind == "html":
                return self._answer(200, HTML_PAGE, {"Content-Type": "text/html"}), None
            if kind == "delay" and proxy._closing.wait(action.delay):
                self._reset()
                return None, None
            headers = {k: self.headers[k] for k in REQUEST_HEADERS if self.headers.get(k)}
            upstream, kept, data = proxy._forward(self.command, self.path, headers, body)
            if kind == "forward-reset":
                self._reset()
                return None, upstream
            return self._answer(upstream, data, kept), upstream

        def _answer(self, status: int, data: bytes, headers: dict) -> int | None:
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:  # the client gave up (timed out) meanwhile
                self.close_connection = True
                return None
            return status

        def _reset(self) -> None:
            """Close the connection with an RST: SO_LINGER 0, and no FIN first."""
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.rfile.close()  # its reference would keep the socket open
                self.connection.close()
            except OSError:
                pass

    return Handler
