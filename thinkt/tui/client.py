"""Reading the collector's state over HTTP: one snapshot of health, stats, agents and sessions."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from thinkt.exporter.ship import endpoint as discovery
from thinkt.exporter.ship.shipper import describe_tls

log = logging.getLogger(__name__)

#: (connect, read) seconds: a page must never hang on a collector that does not answer.
TIMEOUT = (2.0, 5.0)
#: How many recent sessions a page shows.
SESSION_LIMIT = 20

UP = "up"
DOWN = "down"  # nothing answers, or health says the writer is not there
REFUSED = "refused"  # the collector answers but does not accept our token
ERROR = "error"  # it answers something we do not understand


@dataclasses.dataclass(frozen=True)
class CollectorSnapshot:
    """What the collector said at one moment (or why it said nothing)."""

    url: str
    found_by: str
    state: str
    error: str | None = None
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    agents: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    sessions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fetched_at: float = 0.0

    @property
    def up(self) -> bool:
        """True when the collector answered every query."""
        return self.state == UP


class CollectorError(Exception):
    """A query failed; ``state`` says how (down, refused, error)."""

    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state = state
        self.message = message


def base_url(url: str) -> str:
    """Return the collector's root URL from a base URL or one ending in ``/v1/traces``."""
    return discovery.normalize(url)[: -len(discovery.TRACES_PATH)]


class CollectorClient:
    """A small client of the collector's endpoints, with bounded timeouts."""

    def __init__(self, url: str, api_key: str | None = None, found_by: str = "flag",
                 verify: bool | str = True):
        import requests

        self.base = base_url(url)
        self.found_by = found_by
        self._session = requests.Session()
        # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE or
        # CURL_CA_BUNDLE override a session's verify (psf/requests#3829), not a request's.
        self._verify = verify  # True (the system CAs) or a CA bundle path
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` and return its JSON; raise CollectorError saying what went wrong."""
        status, body = self.call("GET", path, params=params or None)
        if status == 403:
            # A valid key without the read role: an exporter's ingest-only key, most often.
            raise CollectorError(REFUSED, "the API key may not read the collector's data "
                                 "(it needs the read role; an exporter's ingest key has not)")
        if status != 200:
            message = body.get("message") if isinstance(body, dict) else None
            raise CollectorError(ERROR, f"HTTP {status}: {message or 'error'}")
        return body

    def call(self, method: str, path: str, *, params: dict | None = None,
             json: Any = None, timeout: tuple[float, float] = TIMEOUT) -> tuple[int, Any]:
        """Send a request; return its status and JSON body.

        :raises CollectorError: no answer (DOWN), the key refused (401, REFUSED), the
            collector unavailable (503, DOWN), or a body that is not JSON (ERROR).
        """
        import requests

        try:
            response = self._session.request(method, self.base + path, params=params,
                                              json=json, verify=self._verify,
                                              timeout=timeout)
        except requests.Timeout:
            raise CollectorError(DOWN, f"no answer within {timeout[1]:g} s") from None
        except requests.exceptions.SSLError as exc:
            # Said as the exporter says it: a certificate or http/https mix-up, with the fix.
            raise CollectorError(DOWN, describe_tls(exc)) from None
        except requests.RequestException as exc:
            log.debug("%s %s: %s", method, path, exc)
            raise CollectorError(DOWN, "connection refused or host unreachable") from None
        if response.status_code == 401:
            raise CollectorError(REFUSED, "the collector refused the API key"
                                 if "Authorization" in self._session.headers
                                 else "the collector needs an API key (--api-key)")
        if response.status_code == 503:
            raise CollectorError(DOWN, "the collector is unavailable (HTTP 503)")
        try:
            body = response.json()
        except ValueError:
            raise CollectorError(ERROR, f"HTTP {response.status_code}, not JSON") from None
        return response.status_code, body

    def snapshot(self) -> CollectorSnapshot:
        """Query health, stats, agents and recent sessions; never raises for a bad collector."""
        try:
            self.get("/v1/collector/health")
            stats = self.get("/v1/traces/stats")
            agents = self.get("/v1/agents")
            # By arrival: a backfill of old history is what just came in, though its own
            # times are a year old (ordered by those, it showed "419d ago" or not at all).
            sessions = self.get("/v1/sessions", limit=SESSION_LIMIT, sort="received")
        except CollectorError as exc:
            return CollectorSnapshot(self.base, self.found_by, exc.state, exc.message,
                                     fetched_at=time.time())
        if not isinstance(stats, dict) or not isinstance(agents, list) \
                or not isinstance(sessions, list):
            return CollectorSnapshot(self.base, self.found_by, ERROR,
                                     "unexpected answer shape", fetched_at=time.time())
        return CollectorSnapshot(self.base, self.found_by, UP, None, stats, agents, sessions,
                                 fetched_at=time.time())
