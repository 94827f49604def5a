"""Bodies are limited after decompression, so a gzip bomb is refused cheaply."""

import gzip
import io
import os
import zlib

import pytest
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.wsgi import LimitedStream

from thinkt.collector.body import InvalidJSON, parse_json, read_body, too_large

LIMIT = 1024 * 1024


def test_plain_body_within_limit():
    assert read_body(io.BytesIO(b'{"a": 1}'), None, LIMIT) == b'{"a": 1}'


def test_plain_body_over_limit_states_the_limit():
    with pytest.raises(RequestEntityTooLarge) as caught:
        read_body(io.BytesIO(b"x" * (LIMIT + 1)), "identity", LIMIT)
    assert caught.value.description == "The body is larger than the limit of 1048576 bytes (1 MiB)."


def test_gzip_body_over_limit_states_the_limit():
    with pytest.raises(RequestEntityTooLarge) as caught:
        read_body(io.BytesIO(gzip.compress(b"y" * (LIMIT + 1))), "gzip", LIMIT)
    assert caught.value.description == (
        "The body inflates to more than the limit of 1048576 bytes (1 MiB).")


@pytest.mark.parametrize("encoding, data", [
    (None, b"x" * (LIMIT + 10)), ("gzip", gzip.compress(os.urandom(LIMIT + 10))),
])
def test_a_body_of_unknown_length_over_the_limit_is_413_stating_it(encoding, data):
    # A chunked body: the server ends the stream, werkzeug stops it one byte past the limit
    # (Flask's MAX_CONTENT_LENGTH is max_body + 1). It was taken whole, cut at the limit.
    stream = LimitedStream(io.BytesIO(data), LIMIT + 1, is_max=True)
    with pytest.raises(RequestEntityTooLarge) as caught:
        read_body(stream, encoding, LIMIT)
    assert "limit of 1048576 bytes" in caught.value.description


def test_a_body_of_unknown_length_at_the_limit_is_read_whole():
    stream = LimitedStream(io.BytesIO(b"z" * LIMIT), LIMIT + 1, is_max=True)
    assert read_body(stream, None, LIMIT) == b"z" * LIMIT


def test_the_limit_is_said_in_bytes_and_in_a_round_unit():
    assert too_large(10 * 1024 * 1024).description == (
        "The body is larger than the limit of 10485760 bytes (10 MiB).")
    assert too_large(1536).description == "The body is larger than the limit of 1536 bytes (1.5 KiB)."
    assert too_large(1000).description == "The body is larger than the limit of 1000 bytes."


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "x-gzip"])
def test_gzip_body_is_inflated(encoding):
    assert read_body(io.BytesIO(gzip.compress(b'{"a": 1}')), encoding, LIMIT) == b'{"a": 1}'


def test_deflate_body_is_inflated():
    assert read_body(io.BytesIO(zlib.compress(b"[1]")), "deflate", LIMIT) == b"[1]"


def test_body_inflating_to_exactly_the_limit_is_accepted():
    assert len(read_body(io.BytesIO(gzip.compress(b"y" * LIMIT)), "gzip", LIMIT)) == LIMIT


def test_gzip_bomb_stops_at_the_limit():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = b"\0" * LIMIT
    bomb = b"".join(packer.compress(zeros) for _ in range(256)) + packer.flush()  # 256 MiB
    stream = io.BytesIO(bomb)
    with pytest.raises(RequestEntityTooLarge):
        read_body(stream, "gzip", LIMIT)
    # It gave up long before reading (let alone inflating) the whole bomb.
    assert stream.tell() < len(bomb)


def test_truncated_and_corrupt_gzip_are_bad_requests():
    data = gzip.compress(b'{"a": "' + b"z" * 5000 + b'"}')
    with pytest.raises(BadRequest):
        read_body(io.BytesIO(data[: len(data) // 2]), "gzip", LIMIT)
    with pytest.raises(BadRequest):
        read_body(io.BytesIO(b"definitely not gzip"), "gzip", LIMIT)


def test_unknown_encoding_is_unsupported():
    with pytest.raises(UnsupportedMediaType):
        read_body(io.BytesIO(b"x"), "br", LIMIT)


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"[" * 100000])
def test_parse_json_refuses_non_json(data):
    with pytest.raises(InvalidJSON):
        parse_json(data)
