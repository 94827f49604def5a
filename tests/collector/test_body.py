"""Bodies are limited after decompression, so a gzip bomb is refused cheaply."""

import gzip
import io
import zlib

import pytest
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from thinkt.collector.body import InvalidJSON, parse_json, read_body

LIMIT = 1024 * 1024


def test_plain_body_within_limit():
    assert read_body(io.BytesIO(b'{"a": 1}'), None, LIMIT) == b'{"a": 1}'


def test_plain_body_over_limit():
    with pytest.raises(RequestEntityTooLarge):
        read_body(io.BytesIO(b"x" * (LIMIT + 1)), "identity", LIMIT)


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
