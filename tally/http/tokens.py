"""API tokens: made by `tally token new`, configured only as their SHA-256 digests.

`TALLY_API_TOKENS` lists entries separated by `;` (or newlines), each
`sha256:<64 hex digits>=<scope>[,<scope>...]` with scopes from `read`, `write`, `admin`.
Scopes are independent: `admin` does not imply `read` or `write`. The plain token never
needs to be stored anywhere but in the client.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "tally_"
_ENTRY = re.compile(r"^sha256:([0-9a-f]{64})=([a-z,\s]+)$")


class InvalidTokens(ValueError):
    """`TALLY_API_TOKENS` is malformed; the message never quotes a digest."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(value: str) -> dict[str, frozenset[str]]:
    """`sha256:<hex>=read,write;...` -> {hex digest: scopes}."""
    tokens: dict[str, frozenset[str]] = {}
    entries = [entry.strip() for entry in re.split(r"[;\n]", value)]
    for number, entry in enumerate((entry for entry in entries if entry), start=1):
        match = _ENTRY.fullmatch(entry.lower())
        if match is None:
            raise InvalidTokens(
                f"entry {number} is not `sha256:<64 hex digits>=<scopes>` "
                "(make one with `tally token new --scopes read,write`)"
            )
        scopes = frozenset(scope.strip() for scope in match[2].split(",") if scope.strip())
        unknown = scopes - set(SCOPES)
        if unknown or not scopes:
            raise InvalidTokens(
                f"entry {number}: scopes must be some of {', '.join(SCOPES)}, "
                f"got {', '.join(sorted(unknown)) or 'none'}"
            )
        tokens[match[1]] = tokens.get(match[1], frozenset()) | scopes
    if not tokens:
        raise InvalidTokens("no token configured (unset the variable to run without tokens)")
    return tokens


def new_token(scopes: Iterable[str]) -> tuple[str, str]:
    """A fresh random token and its configuration entry."""
    chosen = sorted(set(scopes), key=SCOPES.index)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, f"sha256:{digest(token)}={','.join(chosen)}"


class TokenTable:
    """Looks a presented token up by comparing its digest with every configured digest
    in constant time (no early exit, so timing tells nothing about which one matched)."""

    def __init__(self, tokens: Mapping[str, frozenset[str]]) -> None:
        self._entries = [(bytes.fromhex(key), scopes) for key, scopes in tokens.items()]

    def scopes(self, token: str) -> frozenset[str] | None:
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: frozenset[str] | None = None
        for key, scopes in self._entries:
            if hmac.compare_digest(presented, key):
                found = scopes
        return found

    @staticmethod
    def client_key(token: str) -> str:
        """A name for the client that holds `token`, safe to keep in memory or show."""
        return "token:" + digest(token)[:16]
