"""Dependencies: the shared `Runtime` and the API-key check with a scope per route."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from engine.runtime import Runtime
from engine.store.records import ApiKey

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from `equilearn keys create`.")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def require(scope: str | None) -> Callable[..., ApiKey]:
    """A dependency: a valid key (401 otherwise) that holds `scope` (403 otherwise); None = any valid key."""

    def check(key: str | None = Security(api_key_header), runtime: Runtime = Depends(get_runtime)) -> ApiKey:
        return runtime.store.verify_api_key(key, scope)

    return check
