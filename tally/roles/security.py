"""The API's guards from settings: bearer tokens with scopes and the per-client command
rate limit. Running without tokens is allowed (local work) but said loudly at start."""

import logging

from tally.http.auth import ApiAuth
from tally.http.ratelimit import RateLimiter
from tally.http.tokens import TokenTable, parse_tokens
from tally.settings import Settings

log = logging.getLogger("tally.security")


def api_auth(settings: Settings) -> ApiAuth | None:
    if settings.api_tokens is None:
        log.warning(
            "TALLY_API_TOKENS is not set: the API is OPEN, anyone who can reach "
            "%s:%s may place orders, move stock and read every view "
            "(make a token with `tally token new --scopes read,write`)",
            settings.host,
            settings.port,
        )
        return None
    tokens = parse_tokens(settings.api_tokens.get_secret_value())
    log.info(
        "API tokens required",
        extra={"tokens": len(tokens), "protect_ops": settings.protect_ops},
    )
    return ApiAuth(TokenTable(tokens), protect_ops=settings.protect_ops)


def command_limit(settings: Settings) -> RateLimiter | None:
    if settings.command_rate_per_client is None:
        return None
    return RateLimiter(settings.command_rate_per_client, settings.command_burst_per_client)
