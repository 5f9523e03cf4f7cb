"""URLs as they may be shown: in `/ready`, `tally config`, error messages and logs.

`NATS_URL` may carry `user:password@`, a libpq URI `user:password@` or `?password=`, a
payment gateway URL its credentials too. `mask_url` is the one function every output
goes through; `host_port` is what `/ready` reports of a connection (no user at all).
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAMS = frozenset({"password", "pass", "passwd", "sslpassword", "token"})
_TOKEN_SCHEMES = frozenset({"nats://", "tls://", "ws://", "wss://"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^@/?#]*)@")


def _mask_one(url: str) -> str:
    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match["userinfo"].partition(":")
        if colon:
            return f"{match['scheme']}{user}:{MASK}@"
        if match["scheme"].lower() in _TOKEN_SCHEMES and user:  # nats://<token>@host
            return f"{match['scheme']}{MASK}@"
        return match[0]  # a user name alone (postgresql://tally@db) is no secret

    masked = _USERINFO.sub(userinfo, url, count=1)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return masked
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key.lower() in _SECRET_PARAMS for key, _ in query):
        return masked
    shown = [(key, MASK if key.lower() in _SECRET_PARAMS else value) for key, value in query]
    return urlunsplit(parts._replace(query=urlencode(shown, safe="/*")))


def mask_url(value: str) -> str:
    """`value` with every password (and lone token) in it replaced by `***`: one URL or a
    comma-separated list of them (as NATS_URL takes); anything else is returned as is."""
    if "://" not in value and "password=" not in value.lower():
        return value
    return ",".join(_mask_one(part) for part in value.split(","))


def host_port(url: str) -> str:
    """Only `host:port` of `url`, never its user or password."""
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port is not None else host
