"""Talking to the collector: POST a payload with retries, register, check health.

One :class:`Shipper` is shared by the sending threads; each thread keeps its own
``requests.Session`` (connection reuse without sharing a session across threads).
Every request has a connect and a read timeout. 429, 500, 502, 503, 504 and
connection errors are retried with exponential backoff and full jitter, waiting at
least what ``Retry-After`` asks (each wait capped); after ``attempts`` tries the
caller gets :attr:`Result.RETRY` and puts the payload in the disk buffer. 413 means
"split it"; 401/403/404/405 mean the endpoint or key is wrong, which no payload can
fix, so the payload is kept; any other 4xx is final for that payload.

Only an answer in the collector's shape acknowledges a payload: a 2xx whose body is a
JSON object with an integer ``accepted``. Anything else that says 2xx (a wrong port, a
proxy's default page answering ``200 text/html``) acknowledges nothing: it is
:attr:`Result.REFUSED`, as a wrong URL is, and the payload is kept.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import logging
import random
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from thinkt import __version__
from thinkt.exporter.ship.endpoint import Endpoint

log = logging.getLogger(__name__)

REGISTER_PATH = "/v1/agents/register"
HEALTH_PATH = "/v1/collector/health"
#: Registration and health are small and must not hold up a loop: short timeouts.
QUICK_TIMEOUT = (3.0, 5.0)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that say the URL or the key is wrong: no payload is at fault.
ENDPOINT_STATUSES = frozenset({401, 403, 404, 405})


class Result(enum.Enum):
    """What became of one POST."""

    SHIPPED = "shipped"  # 200: committed by the collector
    RETRY = "retry"  # transient failure: try again later (buffer it)
    TOO_LARGE = "too_large"  # 413: send it in smaller pieces
    REFUSED = "refused"  # wrong URL or key (or not a collector): keep it, fix the configuration
    REJECTED = "rejected"  # another 4xx: this payload will never be accepted


@dataclasses.dataclass
class Answer:
    """The collector's answer to one payload (after retries)."""

    result: Result
    status: int | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected_entries: int = 0
    body: Any = None  # the parsed JSON body (or text) of the response
    error: str | None = None  # why a transient failure failed, for logs
    attempts: int = 0
    retry_after: float | None = None  # seconds the last response's Retry-After asked for

    def describe(self) -> str:
        """A short reason for logs and the status file (never the payload)."""
        if self.status is not None:
            code = self.body.get("error") if isinstance(self.body, dict) else None
            detail = f" {code}" if isinstance(code, str) else ""
            return f"HTTP {self.status}{detail}" + (f": {self.error}" if self.error else "")
        return self.error or self.result.value


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def backoff(attempt: int, retry_after: float | None = None, *, base: float = 0.5,
            cap: float = 30.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): full jitter, Retry-After honoured.

    Jitter spreads many exporters that lost the same collector; ``cap`` bounds each
    wait, including a ``Retry-After`` that asks for more.
    """
    delay = rng() * min(cap, base * (2 ** attempt))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


class Shipper:
    """POST payloads to one collector endpoint; usable from several threads."""

    def __init__(self, endpoint: Endpoint, *, timeout: float = 30.0, connect_timeout: float = 5.0,
                 attempts: int = 4, base_delay: float = 0.5, max_delay: float = 30.0,
                 stop: threading.Event | None = None, rng: Callable[[], float] = random.random):
        if endpoint.url is None:
            raise ValueError("a Shipper needs a collector URL")
        self.endpoint = endpoint
        self.timeout = (connect_timeout, timeout)
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stop = stop or threading.Event()
        self._rng = rng
        self._local = threading.local()
        headers = {"User-Agent": f"thinkt-exporter/{__version__}"}
        if endpoint.api_key:
            headers["Authorization"] = f"Bearer {endpoint.api_key}"
        self._headers = headers

    def _send(self, method: str, url: str, **kwargs: Any):
        session = self._session()
        return session.request(method, url, verify=session.verify, **kwargs)

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers.update(self._headers)
            # What requests looks up in the environment (proxies and NO_PROXY for this
            # host; REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE when TLS is verified with the
            # system CAs), looked up once per session and then fixed: per request, that
            # walked os.environ twice, a quarter of the exporter's CPU for each POST.
            # TLS is verified by default; --ca-cert names a private CA's bundle, which
            # those variables do not override (psf/requests#3829), given on each request.
            found = session.merge_environment_settings(self.endpoint.url, {}, None,
                                                       self.endpoint.verify, None)
            session.trust_env = False
            session.proxies = found["proxies"]
            session.verify = found["verify"]
            self._local.session = session
        return session

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        """Send one gzip payload, retrying transient failures; return the final answer."""
        attempts = self.attempts if attempts is None else max(1, attempts)
        answer = Answer(Result.RETRY)
        for attempt in range(attempts):
            answer = self._post_once(body)
            answer.attempts = attempt + 1
            if answer.result is not Result.RETRY or attempt == attempts - 1:
                break
            delay = backoff(attempt, answer.retry_after, base=self.base_delay,
                            cap=self.max_delay, rng=self._rng)
            log.debug("POST failed (%s); retrying in %.2fs", answer.describe(), delay)
            if self.stop.wait(delay):
                break
        return answer

    def _post_once(self, body: bytes) -> Answer:
        import requests

        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        try:
            response = self._send("POST", self.endpoint.url, data=body, headers=headers,
                                  timeout=self.timeout)
        except requests.RequestException as exc:
            return Answer(Result.RETRY, error=_describe_exception(exc))
        status = response.status_code
        parsed = _parse_body(response)
        if 200 <= status < 300:
            if not (isinstance(parsed, dict) and _is_count(parsed.get("accepted"))):
                return _not_a_collector(response, parsed)
            return Answer(Result.SHIPPED, status, accepted=parsed["accepted"],
                          duplicates=_int(parsed.get("duplicates")),
                          rejected_entries=_int(parsed.get("rejected")), body=parsed)
        if status in RETRY_STATUSES:
            return Answer(Result.RETRY, status, body=parsed,
                          retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status == 413:
            return Answer(Result.TOO_LARGE, status, body=parsed)
        if status in ENDPOINT_STATUSES:
            return Answer(Result.REFUSED, status, body=parsed)
        if 400 <= status < 500:
            return Answer(Result.REJECTED, status, body=parsed)
        return Answer(Result.RETRY, status, body=parsed)

    def register(self, info: dict[str, Any]) -> Answer:
        """POST the agent registration (also the heartbeat); one try, no retries."""
        import requests

        try:
            response = self._send("POST", self.endpoint.url_for(REGISTER_PATH), json=info,
                                  timeout=QUICK_TIMEOUT)
        except requests.RequestException as exc:
            return Answer(Result.RETRY, error=_describe_exception(exc))
        status = response.status_code
        parsed = _parse_body(response)
        if 200 <= status < 300:
            if not isinstance(parsed, dict):  # the stored agent, as JSON, or not a collector
                return _not_a_collector(response, parsed)
            return Answer(Result.SHIPPED, status)
        if status in ENDPOINT_STATUSES:
            return Answer(Result.REFUSED, status, body=parsed)
        return Answer(Result.RETRY, status, body=parsed)

    def healthy(self) -> bool:
        """Return True when ``GET /v1/collector/health`` answers 200."""
        import requests

        try:
            response = self._send("GET", self.endpoint.url_for(HEALTH_PATH),
                                  timeout=QUICK_TIMEOUT)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def close(self) -> None:
        """Close this thread's session."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None


def registration(instance_id: str, machine_id: str | None, started_at: datetime,
                 user: str | None = None) -> dict:
    """Return the body of ``POST /v1/agents/register`` for this exporter."""
    import platform
    import socket

    info = {
        "instance_id": instance_id,
        "platform": f"{platform.system().lower()}-{platform.machine()}",
        "hostname": socket.gethostname(),
        "version": __version__,
        "started_at": started_at.astimezone(timezone.utc).isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
    }
    if machine_id:
        info["machine_id"] = machine_id
    if user:
        info["user"] = user
    return info


def _parse_body(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:4096]


def _not_a_collector(response, parsed: Any) -> Answer:
    """A 2xx that is not in the collector's shape: as good as a wrong URL."""
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    return Answer(Result.REFUSED, response.status_code, body=_excerpt(parsed),
                  error=f"{kind} answer is not a thinkt collector's; is the collector URL "
                        "right?")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _int(value: Any) -> int:
    return value if _is_count(value) else 0


def _excerpt(body: Any) -> Any:
    """Keep a little of an unexpected answer (a whole HTML page says nothing more)."""
    return body[:512] if isinstance(body, str) else body


def _describe_exception(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return describe_tls(exc)
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return exc.__class__.__name__


def describe_tls(exc: Exception) -> str:
    """Say why TLS failed in one line, with the fix, instead of urllib3's nested repr."""
    import ssl

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = str(cause.verify_message or cause.reason).rstrip(".")
        if "mismatch" in why.lower():
            return (f"TLS certificate rejected: {why}; use the host name the collector's "
                    "certificate names in the collector URL")
        return (f"TLS certificate rejected: {why}; for a private or self-signed CA pass "
                "--ca-cert with its PEM bundle")
    why = getattr(cause, "reason", None) or "no detail"
    return f"TLS handshake failed ({why}); is the collector serving https:// on that port?"

