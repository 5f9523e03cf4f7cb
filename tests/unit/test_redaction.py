"""The one URL-masking function (tally/redaction.py), on every shape of URL Tally takes."""

import pytest

from tally.redaction import host_port, mask_url


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("nats://api:s3cret@10.0.0.1:4222", "nats://api:***@10.0.0.1:4222"),
        ("tls://api:s3cret@nats-1:4222", "tls://api:***@nats-1:4222"),
        ("nats://t0ken@nats-1:4222", "nats://***@nats-1:4222"),
        (
            "nats://a:x@n1:4222,nats://a:y@n2:4222",
            "nats://a:***@n1:4222,nats://a:***@n2:4222",
        ),
        ("postgresql://tally:pw@db:5432/tally", "postgresql://tally:***@db:5432/tally"),
        ("postgresql://tally:p%40ss@db/tally", "postgresql://tally:***@db/tally"),
        (
            "postgresql://tally@/tally?host=/run/pg&password=pw",
            "postgresql://tally@/tally?host=/run/pg&password=***",
        ),
        ("https://u:pw@pay.example/authorize", "https://u:***@pay.example/authorize"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        (
            "postgresql://tally@db/tally?sslmode=require",
            "postgresql://tally@db/tally?sslmode=require",
        ),
        ("not a url", "not a url"),
    ],
)
def test_mask_url_hides_every_password(given: str, shown: str) -> None:
    assert mask_url(given) == shown


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("nats://api:s3cret@10.0.0.1:4222", "10.0.0.1:4222"),
        ("nats://t0ken@nats-1:4222", "nats-1:4222"),
        ("nats://[::1]:4222", "[::1]:4222"),
        ("127.0.0.1:4222", "127.0.0.1:4222"),
    ],
)
def test_host_port_shows_no_user_at_all(given: str, shown: str) -> None:
    assert host_port(given) == shown
