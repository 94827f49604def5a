"""Reading a request body within the size limit, inflating gzip in bounded steps.

The limit applies to the decompressed bytes and is checked while inflating, so a gzip
bomb costs at most the limit in memory and time before it is refused with 413.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

_CHUNK = 64 * 1024

try:  # what gunicorn raises from the body stream when the client's framing is broken
    from gunicorn.http.errors import ParseException as _FramingError
except ImportError:  # served by something else: only I/O errors come from the stream
    _FramingError = OSError

#: Reading the body fails this way when the client sent a broken body (bad chunk sizes,
#: a missing chunk terminator, a connection dropped mid-body): the client's fault, 400.
_UNREADABLE = (OSError, _FramingError)


def too_large(limit: int, inflated: bool = False) -> RequestEntityTooLarge:
    """Return the 413 that says the limit, e.g. "... 10485760 bytes (10 MiB)."."""
    size = f"{limit} bytes"
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if limit >= unit and limit % (unit // 2) == 0:
            size += f" ({limit / unit:g} {name})"
            break
    what = "inflates to more" if inflated else "is larger"
    return RequestEntityTooLarge(f"The body {what} than the limit of {size}.")


def _read(stream: Any, size: int, limit: int) -> bytes:
    try:
        return stream.read(size)
    except RequestEntityTooLarge:  # werkzeug's stream stopped a body of unknown length
        raise too_large(limit) from None
    except _UNREADABLE as exc:
        raise BadRequest(f"The request body could not be read ({type(exc).__name__}).") from None


def read_body(stream: Any, encoding: str | None, limit: int) -> bytes:
    """Read a request body, inflating ``Content-Encoding: gzip``; 413 past ``limit`` bytes.

    ``stream`` must let one byte past ``limit`` through (Flask's ``MAX_CONTENT_LENGTH``
    is ``limit + 1``), or a chunked body larger than the limit would read as one that
    ends exactly at it.
    """
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        data = _read(stream, limit + 1, limit)
        if len(data) > limit:
            raise too_large(limit)
        return data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (use gzip).")
    # 47 = 32 + 15: accept a gzip or zlib header; 15 alone would be zlib only.
    inflater = zlib.decompressobj(47)
    out = bytearray()
    try:
        while True:
            chunk = _read(stream, _CHUNK, limit)
            if not chunk:
                break
            out += inflater.decompress(chunk, limit + 1 - len(out))
            # Whatever did not fit in the allowance waits in unconsumed_tail: too big.
            if len(out) > limit or inflater.unconsumed_tail:
                raise too_large(limit, inflated=True)
        out += inflater.flush()
    except zlib.error:
        raise BadRequest("The body is not valid gzip data.") from None
    if len(out) > limit:
        raise too_large(limit, inflated=True)
    if not inflater.eof:
        raise BadRequest("The gzip body is truncated.")
    return bytes(out)


def parse_json(data: bytes) -> Any:
    """Parse a JSON body; 400 ``invalid_json`` when it is not JSON."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise InvalidJSON() from None


class InvalidJSON(BadRequest):
    """The body is not JSON (the error code clients see is ``invalid_json``)."""

    code = 400
    description = "The body is not valid JSON."
