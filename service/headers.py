"""Response headers every answer needs whatever handler made it (ASGI middleware).

- `/v1/...` answers carry student data (JSON): `Cache-Control: no-store`, so no browser or proxy keeps a copy
  (Swagger UI calls them from a browser); a handler that sets its own Cache-Control keeps it.
- Every answer: `X-Content-Type-Options: nosniff` (static files included), so a browser never runs a file as a
  type other than the one declared.
The pages set their own stricter headers (service/web/pages.py, `render`).
"""

from __future__ import annotations

from typing import Any


class SafeHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/v1/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
