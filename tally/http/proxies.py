"""Whose `X-Forwarded-For` / `X-Forwarded-Proto` to believe: nobody's, unless
`TALLY_TRUSTED_PROXIES` names the proxies (comma-separated addresses or networks, as
uvicorn takes them). Believed, those headers replace the client's address, which the
per-client command rate limit keys on (without tokens): uvicorn's default trusts any
loopback peer, so a client on the same host could have claimed a new address per request.

Server-neutral: `proxy_options` says what the server must do; `serve_http` hands it to
uvicorn (`proxy_headers`, `forwarded_allow_ips`).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyOptions:
    proxy_headers: bool
    forwarded_allow_ips: str


def trusted_proxies(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def proxy_options(value: str | None) -> ProxyOptions:
    """Proxy headers on only for the peers `value` names; off (and no peer trusted) else."""
    trusted = trusted_proxies(value)
    return ProxyOptions(proxy_headers=bool(trusted), forwarded_allow_ips=",".join(trusted))
