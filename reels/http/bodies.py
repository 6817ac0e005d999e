"""What a GraphQL request over HTTP may be before strawberry reads it: a body of at most
`max_request_bytes` (413 beyond it, counted as it arrives, whatever Content-Length claims), and
JSON that decodes to an object. Every refusal is a GraphQL error body, never a bare 500.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reels.schema.strings import NOT_TEXT, has_lone_surrogate

# graphql-over-http's wording for the status codes strawberry refuses a request with.
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}


def refusal(status: int, message: str) -> Response:
    code = _CODES.get(status, "BAD_REQUEST")
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}, status)


def refusal_of(error: HTTPException) -> Response:
    return refusal(error.status_code, error.reason)


def decode_json(data: str | bytes) -> object:
    """json.loads, with every way a text can fail to be JSON reported as a JSONDecodeError
    (which strawberry answers with 400, or a 4400 close on a socket): invalid UTF-8, nesting
    past the interpreter's recursion limit, an integer past Python's digit limit."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(f"not JSON: {type(error).__name__}", "", 0) from None


def request_object(data: Any) -> Any:
    """A request body is a JSON object (a list would be a batch, which strawberry refuses)."""
    if not isinstance(data, dict | list):
        raise HTTPException(400, "the request body must be a JSON object with a `query`")
    if isinstance(data, dict) and not isinstance(data.get("operationName"), str | None):
        raise HTTPException(400, "`operationName` must be a string or null, if provided")
    # Refused here, not by the schema: strawberry echoes an unknown name in its HTTP refusal.
    if isinstance(data, dict) and has_lone_surrogate(data.get("operationName")):
        raise HTTPException(400, f"`operationName`: {NOT_TEXT}")
    return data


class _TooLarge(Exception):
    pass


class CappedBodies:
    """Refuses an HTTP request whose body is larger than `max_bytes` with 413, before it is
    parsed: by its Content-Length, or once more bytes than that have arrived."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:  # raised while the body is read, before any answer is sent
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await refusal(413, f"the request body is larger than {self.max_bytes} bytes")(scope, receive, send)
