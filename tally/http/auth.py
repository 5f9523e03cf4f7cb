"""Bearer tokens with scopes, decided by route class before any route runs (`edge.py`).

- operations (`/health`, `/ready`, `/metrics`, `/openapi.json`, `/docs/…`, `/problems/…`):
  open to GET and HEAD, or any valid token when `protect_ops` is on (the README's "Securing
  Tally" names each; tests/unit/test_open_paths_documented.py holds it to that);
- the admin API (`/admin`, every method) and operational writes (non-GET under
  `/projections`, `/dlq`, `/replay`): `admin`;
- commands (any other method than GET/HEAD/OPTIONS): `write`;
- queries (every other GET): `read`.

Missing or unknown token: 401 with `WWW-Authenticate: Bearer`; valid token without the
scope: 403. Unknown paths are classified the same way, so a 404 never tells an
unauthenticated client which routes exist. The token itself is never logged or echoed.
"""

from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from http_edge.openapi import problem_answer
from http_edge.problems import Problem
from tally.http.tokens import TokenTable

OPS_PATHS = (
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/problems",
    "/ops/static",  # the operations page's script and style: no data
)
OPS_PAGE = "/ops"  # the page itself holds no data; /ops/events (the data) needs `read`
ADMIN_PREFIXES = ("/projections", "/dlq", "/replay")
ADMIN_API = "/admin"  # every method: even reading dead letters shows payloads
READ_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_TOKEN_LENGTH = 512
SCHEME_NAME = "bearerAuth"


@dataclass(frozen=True)
class ApiAuth:
    tokens: TokenTable
    protect_ops: bool = False

    def secure_openapi(self, document: dict[str, Any]) -> None:
        """Declares the bearer scheme for every operation (ops only when protected)."""
        components = document.setdefault("components", {})
        components["securitySchemes"] = {
            SCHEME_NAME: {"type": "http", "scheme": "bearer", "description": "tally token"}
        }
        document["security"] = [{SCHEME_NAME: []}]
        for path, item in document.get("paths", {}).items():
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                if is_ops(path) and not self.protect_ops:
                    operation["security"] = []
                    continue
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", problem_answer("No token, or an unknown one"))
                if not is_ops(path):
                    responses.setdefault("403", problem_answer("The token lacks the scope"))


def is_ops(path: str) -> bool:
    return path == OPS_PAGE or any(path == ops or path.startswith(ops + "/") for ops in OPS_PATHS)


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs; None for operations (open unless protected)."""
    if is_ops(path) and method in READ_METHODS:
        return None
    if path == ADMIN_API or path.startswith(ADMIN_API + "/"):
        return "admin"
    if method in READ_METHODS:
        return "read"
    if any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PREFIXES):
        return "admin"
    return "write"


def bearer_token(scope: Scope) -> str | None:
    values = [value for name, value in scope["headers"] if name == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, token = str(values[0].decode("latin-1")).strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


def refusal_for(auth: ApiAuth, scope: Scope) -> Problem | None:
    """The 401/403 for a request without the token its route class needs, else None (and
    the client's key kept in `scope["state"]` for the rate limit)."""
    needed = required_scope(scope["method"], scope["path"])
    if needed is None and not auth.protect_ops:
        return None
    token = bearer_token(scope)
    scopes = auth.tokens.scopes(token) if token is not None else None
    if token is None or scopes is None:
        given = token is not None
        challenge = 'Bearer realm="tally"' + (', error="invalid_token"' if given else "")
        detail = "the token is not known" if given else "send `Authorization: Bearer <token>`"
        return Problem(
            401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge}
        )
    if needed is not None and needed not in scopes:
        challenge = f'Bearer realm="tally", error="insufficient_scope", scope="{needed}"'
        detail = f"this route needs a token with the `{needed}` scope"
        return Problem(
            403, "forbidden", "Forbidden", detail, headers={"WWW-Authenticate": challenge}
        )
    scope.setdefault("state", {})["client_key"] = TokenTable.client_key(token)
    return None
