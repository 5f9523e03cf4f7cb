"""A command's body: a Content-Length that is not ASCII digits is a 400, whatever
str.isdigit says of it (`²` is a digit to Python, not to int())."""

import asyncio

import pytest
from starlette.requests import Request

from http_edge.problems import Problem
from write_side.http.body import read_body


def _request(content_length: bytes) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", content_length)]}
    return Request(scope, receive)


@pytest.mark.parametrize("declared", [b"\xb2", b"1x", b"-1"])
def test_a_content_length_of_other_than_ascii_digits_is_a_400(declared: bytes) -> None:
    with pytest.raises(Problem) as raised:
        asyncio.run(read_body(_request(declared)))
    assert raised.value.status == 400


def test_a_body_within_its_declared_length_is_read() -> None:
    assert asyncio.run(read_body(_request(b"2"))) == b"{}"
