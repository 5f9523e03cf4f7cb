"""The admin routes of pauses and replays described for the OpenAPI document (tag `admin`)."""

from typing import Any

from http_edge.openapi import json_answer, problem_answer
from projections.registry import PROJECTIONS
from tally.admin.projection_routes import PROJECTIONS_PREFIX, REPLAYS_PREFIX

UNAVAILABLE = "PostgreSQL unreachable, or no DATABASE_URL to write with"
NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [*PROJECTIONS]},
    "description": "the view",
}
ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "description": "the replay's id (`replay_id`)",
}
PAUSED = {
    "type": "object",
    "required": ["name", "paused"],
    "properties": {"name": {"type": "string"}, "paused": {"type": "boolean"}},
}
ASKED = {
    "type": "object",
    "required": ["replay_id"],
    "properties": {"replay_id": {"type": "string", "format": "uuid"}},
}
STATES = ["building", "catching-up", "comparing", "swapped", "failed", "cancelled"]
_TIME = {"type": ["string", "null"], "format": "date-time"}
REPLAY = {
    "type": "object",
    "required": ["replay_id", "projection", "state", "done", "total", "rate", "comparison"],
    "properties": {
        "replay_id": {"type": "string", "format": "uuid"},
        "projection": {"type": "string"},
        "state": {"type": "string", "enum": STATES},
        "done": {"type": "integer", "description": "stream position the rebuild has reached"},
        "total": {"type": "integer", "description": "the stream's last sequence"},
        "rate": {"type": "number", "description": "events/s since it started"},
        "error": {"type": ["string", "null"], "description": "why it failed"},
        "comparison": {
            "type": ["object", "null"],
            "description": "the rebuild against the live view at the swap (null: not compared)",
        },
        "requested_at": _TIME,
        "started_at": _TIME,
        "finished_at": _TIME,
    },
}


def _operation(
    operation_id: str, summary: str, status: str, ok: dict[str, Any], **errors: str
) -> dict[str, Any]:
    responses = {status: ok, "503": problem_answer(UNAVAILABLE)}
    responses.update({code.lstrip("_"): problem_answer(text) for code, text in errors.items()})
    return {"operationId": operation_id, "summary": summary, "tags": ["admin"],
            "responses": responses}  # fmt: skip


def projection_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the pause and replay routes."""
    replay_ref = {"$ref": "#/components/schemas/Replay"}
    pause = _operation(
        "PauseProjection",
        "Pause a view: its projectors stop pulling, keep their lock and checkpoint, and stay"
        " paused across restarts (as `tally pause`)",
        "200",
        json_answer("Paused", PAUSED),
        _404="No such view",
    )
    resume = _operation(
        "ResumeProjection",
        "Resume a paused view: its projectors catch up from their checkpoint",
        "200",
        json_answer("Resumed", PAUSED),
        _404="No such view",
    )
    replay = _operation(
        "ReplayProjection",
        "Rebuild a view from its stream and swap it in, run by the projections worker",
        "202",
        json_answer("Asked for; follow it at /admin/replays/{replay_id}", ASKED),
        _404="No such view",
        _409="`replay-running`: a replay of that view is running",
    )
    asked = {"id": "$response.body#/replay_id"}
    replay["responses"]["202"]["links"] = {
        "GetReplay": {"operationId": "GetReplay", "parameters": asked},
        "CancelReplay": {"operationId": "CancelReplay", "parameters": asked},
    }
    show = _operation(
        "GetReplay",
        "A replay's state and progress",
        "200",
        json_answer("The replay", replay_ref),
        _404="No such replay",
    )
    cancel = _operation(
        "CancelReplay",
        "Cancel a replay: its rebuild is dropped, the live view untouched",
        "202",
        json_answer("Cancelling (or cancelled, if no worker had taken it)", replay_ref),
        _404="No such replay",
        _409="`replay-finished`: the replay is over",
    )
    for operation in (pause, resume, replay):
        operation["parameters"] = [NAME]
    for operation in (show, cancel):
        operation["parameters"] = [ID]
    view = PROJECTIONS_PREFIX + "/{name}"
    paths = {
        view + "/pause": {"post": pause},
        view + "/resume": {"post": resume},
        view + "/replay": {"post": replay},
        REPLAYS_PREFIX + "/{id}": {"get": show, "delete": cancel},
    }
    return paths, {"Replay": REPLAY}
