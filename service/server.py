"""How `equilearn serve` runs uvicorn: no server banner, and no connection held open by a client that stalls.

uvicorn closes a connection idle *between* requests after `timeout_keep_alive`, but a connection that opens
and sends nothing, or sends half a request and stops (half-open, or a slow-loris client), is kept for ever:
the keep-alive timer is armed only after a response, and cancelled by the first byte of the next request.
`GuardedHttpToolsProtocol` (uvicorn's httptools protocol plus one timer) closes a connection whose whole
request, headers and body, has not arrived within `EQUILEARN_READ_TIMEOUT_SECONDS` of its first byte, or of
the connection's opening. A request being answered is not affected: the timer stops when the request is in.

`server_header=False` drops `server: uvicorn`; the service's own responses name no database backend.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.runtime.settings import ServiceSettings, load_service_settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency; uvicorn's h11 is the fallback
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

H11_MAX_INCOMPLETE_EVENT = 16 * 1024  # bytes of an unfinished request line + headers (uvicorn's h11 default too)


if HttpToolsProtocol is not None:
    class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """uvicorn's httptools protocol with a deadline for receiving each whole request (module docstring)."""

        read_timeout: float | None = None  # seconds; None = from the settings, read once per process

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._read_deadline: asyncio.TimerHandle | None = None
            if type(self).read_timeout is None:
                type(self).read_timeout = load_service_settings().read_timeout_seconds

        def _arm(self) -> None:
            if self._read_deadline is None:
                self._read_deadline = self.loop.call_later(float(self.read_timeout or 15.0), self._read_timed_out)

        def _disarm(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
                self._read_deadline = None

        def _read_timed_out(self) -> None:
            self._read_deadline = None
            if not self.transport.is_closing():
                self.transport.close()  # an app still waiting for the body sees http.disconnect

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._arm()  # a new request begins (the deadline runs from its first byte); no-op while one is armed
            super().data_received(data)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)
else:  # pragma: no cover
    GuardedHttpToolsProtocol = None  # type: ignore[assignment,misc]


def uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that every server of this service uses."""
    if GuardedHttpToolsProtocol is not None:
        GuardedHttpToolsProtocol.read_timeout = settings.read_timeout_seconds
    return {
        "http": GuardedHttpToolsProtocol or "h11",
        "server_header": False,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": H11_MAX_INCOMPLETE_EVENT,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
