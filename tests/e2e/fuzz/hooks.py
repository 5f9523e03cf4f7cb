"""Hooks for the schemathesis run of `test_openapi.py` (loaded through SCHEMATHESIS_HOOKS).

- `wait` is capped at 0.5 s (and is 0.5 s where `after` comes without it): a generated
  `after` may name a position the view never reaches, and the answer after 0.5 s is the
  same designed one as after 30 s (503 `projection-lagging`); uncapped, one such case
  costs a run up to 30 s.
- `after` is dropped where `as_of` comes with it: the two exclude each other (400
  `as-of-with-after`, SPEC §6, tested in tests/integration/views/test_temporal_reads.py),
  which a document cannot say of two query parameters; sent together they would be
  refused whatever values the fuzzer drew, and read as a document that says too little.
- A generated `Idempotency-Key` is given a suffix from the body: the fuzzer sends the
  same few keys (`0`, ...) with ever new bodies, which the API rightly refuses (422
  `idempotency-key-reused`, tested in tests/integration/commands), whatever the
  document says. With the suffix a repeated body still replays its first answer.
- Every answer must be the API's own: 503 is designed (a view lagging, a dependency
  down) but 500 never is, and every error answer is problem+json.
"""

import hashlib
import json
from collections.abc import MutableMapping
from typing import Any

import schemathesis

MAX_WAIT = 0.5
KEY = "Idempotency-Key"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if isinstance(case.query, MutableMapping):
        if "as_of" in case.query:
            case.query.pop("after", None)
        if "wait" in case.query:
            case.query["wait"] = _capped(case.query["wait"])
        elif "after" in case.query:
            case.query["wait"] = MAX_WAIT
    key = case.headers.get(KEY) if isinstance(case.headers, MutableMapping) else None
    if isinstance(key, str) and key:
        body = json.dumps(case.body, sort_keys=True, default=repr).encode()
        case.headers[KEY] = key[:246] + "~" + hashlib.sha256(body).hexdigest()[:8]


def _capped(wait: Any) -> Any:
    """Numbers (some phases send them as text) above the cap, capped; anything else as is."""
    try:
        seconds = float(wait)
    except (TypeError, ValueError):
        return wait
    if isinstance(wait, bool) or not MAX_WAIT < seconds < float("inf"):
        return wait
    return MAX_WAIT if isinstance(wait, int | float) else str(MAX_WAIT)


@schemathesis.check
def answers_as_designed(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code == 500:
        raise AssertionError(f"500 Internal error: {response.text[:300]}")
    media = response.headers.get("content-type", [""])[0]
    if response.status_code >= 400 and not media.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {media!r}, not problem+json")
    return None
