"""Finding the collector: the cascade of CONTRACT.md §4, and which step won.

1. ``--collector-url``; 2. ``THINKT_COLLECTOR_URL``; (a ``collector_url`` in the
config file comes next, being just as explicit); 3. ``.thinkt/collector.json`` in the
project directory (the working directory) or one of its parents; 4. the well-known
document ``<base>/.well-known/thinkt.json`` of each configured base URL
(``http://localhost:4318`` by default); 5. nothing: payloads go to the disk buffer
only, and the exporter says so.

A URL is normalised to end in ``/v1/traces``. The API key comes from ``--api-key``,
then ``THINKT_API_KEY``, then the project file that named the collector (never from
a well-known document: anyone on the network could serve one).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

from thinkt.addresses import is_loopback
from thinkt.status import ConfigError

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
PROJECT_FILE = Path(".thinkt") / "collector.json"
WELL_KNOWN_PATH = "/.well-known/thinkt.json"
#: A well-known probe must not hold up a cron run: short timeouts (connect, read).
WELL_KNOWN_TIMEOUT = (1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where payloads go (``url`` None: the disk buffer only), with what key, found how."""

    url: str | None
    api_key: str | None = None
    found_by: str = "none"
    #: What requests verifies TLS with: True (the system CAs) or a CA bundle path.
    verify: bool | str = True
    #: When nothing was found: each step tried, and what it gave.
    tried: tuple[str, ...] = ()

    @property
    def base(self) -> str | None:
        """The collector's root URL (``url`` without ``/v1/traces``)."""
        if self.url is None:
            return None
        return self.url[: -len(TRACES_PATH)]

    def url_for(self, path: str) -> str:
        """Return the URL of another collector endpoint, e.g. ``/v1/agents/register``."""
        if self.base is None:
            raise ValueError("no collector")
        return self.base + path

    def describe(self) -> str:
        """One line saying where payloads go and which discovery step chose it."""
        if self.url is None:
            tried = "; ".join(self.tried or (
                "no --collector-url, THINKT_COLLECTOR_URL or collector_url in the config",
                "no .thinkt/collector.json", "no well-known document"))
            return f"No collector found ({tried}): buffering to disk only"
        return f"Collector {self.url} (from {self.found_by})"


def normalize(url: str) -> str:
    """Return ``url`` ending in ``/v1/traces``; raise ConfigError if it is not an http(s) URL."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"collector URL {url!r} is not an http:// or https:// URL",
                          hint="Pass something like --collector-url http://collector:4318")
    path = parts.path.rstrip("/")
    if not path.endswith(TRACES_PATH):
        path = path[: -len("/v1")] if path.endswith("/v1") else path
        path += TRACES_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def find_project_file(start: Path) -> Path | None:
    """Return the nearest ``.thinkt/collector.json`` in ``start`` or a parent, or None."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def read_project_file(path: Path) -> tuple[str, str | None]:
    """Return ``(collector_url, api_key)`` from a project's collector.json."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}",
                          hint='It should hold {"collector_url": "http://host:4318"}.') from None
    if not isinstance(data, dict) or not isinstance(data.get("collector_url"), str) \
            or not data["collector_url"].strip():
        raise ConfigError(f"{path} has no collector_url",
                          hint='It should hold {"collector_url": "http://host:4318"}.')
    api_key = data.get("api_key")
    return data["collector_url"], api_key if isinstance(api_key, str) and api_key else None


def fetch_well_known(base: str) -> tuple[str | None, str]:
    """Return the collector URL a base's ``/.well-known/thinkt.json`` names (or None), and
    what the try gave, for the message that says what discovery tried."""
    import requests

    url = base.rstrip("/") + WELL_KNOWN_PATH
    try:
        response = requests.get(url, timeout=WELL_KNOWN_TIMEOUT)
    except requests.ConnectionError:
        return None, f"{url}: nothing answers"
    except requests.Timeout:
        return None, f"{url}: timed out"
    except requests.RequestException as exc:
        return None, f"{url}: {exc.__class__.__name__}"
    if response.status_code != 200:
        return None, f"{url}: HTTP {response.status_code}"
    try:
        data = response.json()
    except ValueError:
        return None, f"{url}: not JSON"
    value = data.get("collector_url") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None, f"{url}: no collector_url in it"
    if not urlsplit(value.strip()).netloc:
        # A relative answer ("/v1/traces") is relative to the base that gave it.
        value = base.rstrip("/") + "/" + value.strip().lstrip("/")
    return value, url


def check_transport(endpoint: Endpoint, *, allow_insecure_http: bool = False,
                    ca_cert: str | None = None) -> Endpoint:
    """Refuse to send the API key in the clear off this machine; attach the CA bundle.

    :raises ConfigError: the key would go over plain http:// to another host (unless
        allowed), or the CA bundle does not exist.
    """
    if ca_cert:
        if not Path(ca_cert).expanduser().is_file():
            raise ConfigError(f"CA bundle {ca_cert} does not exist",
                              hint="Give --ca-cert the PEM file of your private CA.")
        endpoint = dataclasses.replace(endpoint, verify=str(Path(ca_cert).expanduser()))
    if endpoint.url is None or not endpoint.api_key or allow_insecure_http:
        return endpoint
    parts = urlsplit(endpoint.url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing to send the API key over plain HTTP to {parts.hostname} "
            f"(collector from {endpoint.found_by})",
            hint="Use an https:// collector URL, or pass --allow-insecure-http "
                 "(THINKT_ALLOW_INSECURE_HTTP=1) if this network is trusted.")
    return endpoint


def discover(*, url: str | None = None, url_from: str = "flag", api_key: str | None = None,
             project_dir: Path | None = None, well_known: Iterable[str] = (),
             allow_insecure_http: bool = False, ca_cert: str | None = None) -> Endpoint:
    """Run the cascade and return the endpoint (with ``found_by`` naming the winning step).

    ``url`` is the value of the ``collector_url`` setting and ``url_from`` where click
    found it ("flag", "env THINKT_COLLECTOR_URL" or "config file ..."). The result has
    passed :func:`check_transport`.
    """
    found = _cascade(url=url, url_from=url_from, api_key=api_key, project_dir=project_dir,
                     well_known=well_known)
    return check_transport(found, allow_insecure_http=allow_insecure_http, ca_cert=ca_cert)


def _cascade(*, url: str | None, url_from: str, api_key: str | None,
             project_dir: Path | None, well_known: Iterable[str]) -> Endpoint:
    if url:
        return Endpoint(normalize(url), api_key, url_from)
    tried = ["no --collector-url, THINKT_COLLECTOR_URL or collector_url in the config"]
    if project_dir is not None:
        project_file = find_project_file(project_dir)
        if project_file is not None:
            file_url, file_key = read_project_file(project_file)
            return Endpoint(normalize(file_url), api_key or file_key, f"project file {project_file}")
        tried.append(f"no .thinkt/collector.json in {project_dir} or its parents")
    for base in well_known:
        found, what = fetch_well_known(normalize(base)[: -len(TRACES_PATH)])
        if found:
            return Endpoint(normalize(found), api_key, f"well-known {what}")
        tried.append(what)
    return Endpoint(None, api_key, "none", tried=tuple(tried))
