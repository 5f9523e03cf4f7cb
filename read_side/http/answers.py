"""The answer of a view route whose body PostgreSQL already rendered as JSON (or a cached
page's bytes): a 200 with its two headers made directly.

Starlette's `Response.__init__` renders the content and builds the headers through a
general path (optional mappings, charset rules, status checks) that every GET paid for;
this is what that path ends with for a JSON body, `Response.__call__` sends it unchanged.
"""

from starlette.responses import Response

JSON = b"application/json"


class JsonAnswer(Response):
    media_type = JSON.decode()

    def __init__(self, body: str | bytes) -> None:  # Starlette's __init__ not called: see above
        content = body.encode() if isinstance(body, str) else body
        self.status_code = 200
        self.background = None
        self.body = content
        self.raw_headers = [
            (b"content-length", str(len(content)).encode()),
            (b"content-type", JSON),
        ]
