"""With API tokens on, every path the API serves without a token is named in the README's
"Securing Tally" (issue 22: the README says exactly what holds). The open paths are found
by asking the real app, not read from tally/http/auth.py, so a route added under an open
prefix shows up here too."""

import re
from pathlib import Path

import httpx
from starlette.routing import BaseRoute, Mount, Route

from tally.http.app import create_api_app
from tally.http.auth import ApiAuth
from tally.http.edge import Edge
from tally.http.tokens import TokenTable, digest, parse_tokens

README = Path(__file__).resolve().parents[2] / "README.md"
# A value for each path parameter and a file under each mount, to ask the app with.
SAMPLES = {"{code}": "unauthorized"}
MOUNTED_FILE = {"/docs/static": "/swagger-ui.css"}


def securing_tally() -> str:
    text = README.read_text()
    return text[text.index("## Securing Tally") :].split("\n## ", 1)[0]


def documented_form(route: BaseRoute) -> tuple[str, str]:
    """(how the README names it, a concrete path to request)."""
    if isinstance(route, Mount):
        return f"{route.path}/…", route.path + MOUNTED_FILE[route.path]
    assert isinstance(route, Route)
    concrete = route.path
    for param, value in SAMPLES.items():
        concrete = concrete.replace(param, value)
    return route.path, concrete


async def open_paths(app: Edge) -> set[str]:
    found = set()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
        for route in app.routes:
            if isinstance(route, Route) and "GET" not in (route.methods or ()):
                continue
            named, concrete = documented_form(route)
            answer = await client.get(concrete)
            if answer.status_code != 401:
                assert answer.status_code == 200, (concrete, answer.status_code)
                found.add(named)
    return found


def app(protect_ops: bool) -> Edge:
    tokens = TokenTable(parse_tokens(f"sha256:{digest('tally_test')}=read,write,admin"))
    return create_api_app(routes=[], checks={}, auth=ApiAuth(tokens, protect_ops=protect_ops))


async def test_every_path_open_without_a_token_is_in_securing_tally() -> None:
    opened = await open_paths(app(protect_ops=False))
    assert {"/health", "/problems/{code}"} <= opened  # the app was asked
    named = set(re.findall(r"`(/[^`\s]*)`", securing_tally()))
    assert sorted(opened - named) == []


async def test_protect_ops_leaves_no_path_open() -> None:
    assert await open_paths(app(protect_ops=True)) == set()
