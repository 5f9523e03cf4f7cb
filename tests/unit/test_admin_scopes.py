"""Which scope the admin API and the operations page need when tokens are on."""

from tally.http.auth import required_scope


def test_the_admin_api_needs_admin_for_every_method() -> None:
    for method in ("GET", "POST", "DELETE"):
        assert required_scope(method, "/admin/dead-letters") == "admin"
        assert required_scope(method, "/admin/dead-letters/7/retry") == "admin"
    assert required_scope("GET", "/administrator") == "read"  # a prefix, not a substring


def test_the_ops_page_is_open_and_its_data_needs_read() -> None:
    assert required_scope("GET", "/ops") is None
    assert required_scope("GET", "/ops/static/ops.js") is None
    assert required_scope("GET", "/ops/events") == "read"
    assert required_scope("POST", "/ops") == "write"
