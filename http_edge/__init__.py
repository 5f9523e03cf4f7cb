"""The HTTP edge both sides share: problem+json answers and the one table that maps errors
to them, path parameters defined once for parsing and for the OpenAPI document, the
correlation-id rule and the OpenAPI fragments every route uses.

It sits below the write side and the read side (both may import it; it imports neither)
and above `events/`, whose SKU rule it needs: nothing else of ours."""
