"""The HTTP process: one Starlette app joining the command routes, the query routes and the
operational routes, with the middleware they share."""
