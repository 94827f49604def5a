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


def _read(stream: Any, size: int) -> bytes:
    try:
        return stream.read(size)
    except _UNREADABLE as exc:
        raise BadRequest(f"The request body could not be read ({type(exc).__name__}).") from None


def read_body(stream: Any, encoding: str | None, limit: int) -> bytes:
    """Read a request body, inflating ``Content-Encoding: gzip``; 413 past ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        data = _read(stream, limit + 1)
        if len(data) > limit:
            raise RequestEntityTooLarge(f"The body is larger than {limit} bytes.")
        return data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (use gzip).")
    # 47 = 32 + 15: accept a gzip or zlib header; 15 alone would be zlib only.
    inflater = zlib.decompressobj(47)
    out = bytearray()
    try:
        while True:
            chunk = _read(stream, _CHUNK)
            if not chunk:
                break
            out += inflater.decompress(chunk, limit + 1 - len(out))
            # Whatever did not fit in the allowance waits in unconsumed_tail: too big.
            if len(out) > limit or inflater.unconsumed_tail:
                raise RequestEntityTooLarge(f"The body inflates to more than {limit} bytes.")
        out += inflater.flush()
    except zlib.error:
        raise BadRequest("The body is not valid gzip data.") from None
    if len(out) > limit:
        raise RequestEntityTooLarge(f"The body inflates to more than {limit} bytes.")
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
