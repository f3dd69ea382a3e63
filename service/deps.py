"""Dependencies: the shared `Runtime` and the API-key check with a scope per route.

Both are `async` so they run on the event loop instead of costing a thread hand-off each: the key check
answers from the store's key cache when it can and reads the database in the thread pool only on a miss.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from engine.errors import AuthError
from engine.runtime import Runtime
from engine.store.records import ApiKey

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from `equilearn keys create`.")


T = TypeVar("T")


async def compute(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` for a mastery or recommendation request: on the event loop itself when
    `EQUILEARN_COMPUTE_THREADS` is 0 (the default: a thread hand-off costs more interpreter-lock traffic than
    the 1 to 3 ms computation it would overlap), else in a worker thread, at most that many at once
    (`app.state.compute_limiter`), further requests waiting on the event loop."""
    limiter = request.app.state.compute_limiter
    if limiter is None:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def require(scope: str | None) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: a valid key (401 otherwise) that holds `scope` (403 otherwise); None = any valid key.
    A client address that sent too many wrong keys gets 429 first (`service.throttle`)."""

    async def check(request: Request, key: str | None = Security(api_key_header),
                    runtime: Runtime = Depends(get_runtime)) -> ApiKey:
        throttle = getattr(request.app.state, "key_throttle", None)
        client = request.client.host if request.client else "unknown"
        if throttle is not None and key is not None and (wait := throttle.retry_after(client)) is not None:
            raise HTTPException(429, f"too many wrong API keys from this address; retry in {wait} s",
                                headers={"Retry-After": str(wait)})
        try:
            record = runtime.store.cached_api_key(key, scope)
            if record is None:
                record = await run_in_threadpool(runtime.store.verify_api_key, key, scope)
        except AuthError:
            if throttle is not None and key is not None:
                throttle.failed(client)
            raise
        return record

    return check
