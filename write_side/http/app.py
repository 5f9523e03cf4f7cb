"""A Starlette app with only the command routes (the composition root merges the sides)."""

from starlette.applications import Starlette

from write_side.command_service import CommandService
from write_side.http.idempotent import IdempotentCommands
from write_side.http.routes import CommandRoutes


def create_app(service: CommandService, idempotency: IdempotentCommands) -> Starlette:
    return Starlette(routes=CommandRoutes(service, idempotency).routes())
