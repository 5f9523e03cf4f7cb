"""/health (the process is alive) and /ready (every dependency answers), with the failing
checks named."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CheckResult = tuple[bool, str]
Check = Callable[[], Awaitable[CheckResult]]
CHECK_TIMEOUT = 1.5


async def _run(check: Check) -> CheckResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except TimeoutError:
        return False, f"no answer within {CHECK_TIMEOUT} s"
    except Exception as error:  # a failing check is reported, never raised
        return False, f"{type(error).__name__}: {error}"


async def run_checks(checks: Mapping[str, Check]) -> dict[str, CheckResult]:
    """Every check at once, each bounded by CHECK_TIMEOUT (also run before each scrape of
    /metrics, as the tally_ready_check_up gauges)."""
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))


def ops_routes(checks: Mapping[str, Check]) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        results = await run_checks(checks)
        report = {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()}
        failing = [name for name, (ok, _) in results.items() if not ok]
        status = "ok" if not failing else "unavailable"
        body = {"status": status, "checks": report, "failing": failing}
        return JSONResponse(body, status_code=200 if not failing else 503)

    return [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]
