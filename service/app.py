"""The FastAPI application: routers, auth, error mapping, size limits, metrics. No domain logic here.

`create_app(runtime)` serves a given `engine.runtime.Runtime` (tests); without one it opens
`Runtime.open()` at startup from the `EQUILEARN_*` settings (uvicorn: `service.app:create_app --factory`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from engine.config import disable_telemetry
from engine.runtime import Runtime, load_service_settings
from engine.runtime.group_commit import AsyncGroupCommitter
from service import errors
from service.headers import SafeHeaders
from service.limits import BodyLimit
from service.metrics import Metrics, MetricsMiddleware
from service.routers import audits, catalog, classes, events, health, models, roster, students
from service.web import pages
from service.throttle import FailedKeyThrottle

log = logging.getLogger(__name__)

DESCRIPTION = """Adaptive learning with equity built in. Send every request with an `X-API-Key` header
(`equilearn keys create --scope ingest,recommend`). Scopes: `ingest` (POST /v1/events), `recommend`
(students' mastery and recommendations), `audit` (roster and audits), `admin` (catalog upload, models)."""


async def watch_policy(runtime: Runtime, every_s: float) -> None:
    """Every `every_s` seconds, load the policy again if another process sharing the database reloaded it,
    uploaded a catalog or recorded an audit (`Runtime.refresh`), then learn from the answers that followed the lists
    any process served (`Runtime.catch_up`); a failure is logged once and retried."""
    last_error: dict[str, str] = {}  # per task, the error logged last (logged again only when it changes)
    while True:
        await anyio.sleep(every_s)
        for what, call in (("policy refresh", runtime.refresh), ("learning from served lists", runtime.catch_up)):
            try:
                await anyio.to_thread.run_sync(call)
                last_error.pop(what, None)
            except Exception as exc:  # noqa: BLE001 - the current policy stays; /readyz shows what is served
                if str(exc) != last_error.get(what):
                    log.error("%s failed (the current policy stays served): %s", what, exc)
                last_error[what] = str(exc)


def create_app(runtime: Runtime | None = None) -> FastAPI:
    disable_telemetry()
    settings = runtime.settings if runtime is not None else load_service_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime if runtime is not None else Runtime.open(settings)
        watcher = (asyncio.create_task(watch_policy(app.state.runtime, settings.policy_check_seconds))
                   if settings.policy_check_seconds > 0 else None)
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            if owned:
                app.state.runtime.close()

    # /docs is served by service.web.pages from local files (no CDN); ReDoc (CDN only) is not served
    app = FastAPI(title="equilearn", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.metrics = Metrics()
    app.state.key_throttle = FailedKeyThrottle(settings.failed_keys_per_minute) if settings.failed_keys_per_minute else None
    app.state.cors_origins = settings.cors_origins
    app.state.compute_limiter = anyio.CapacityLimiter(settings.compute_threads) if settings.compute_threads else None
    # served lists are logged by group commit on the event loop: one thread hand-off per transaction
    app.state.served_log = AsyncGroupCommitter(lambda rows: app.state.runtime.write_served(rows))
    if runtime is not None:
        app.state.runtime = runtime
    errors.install(app)
    for module in (events, students, catalog, roster, audits, models, health, classes):
        app.include_router(module.router)
    app.mount(pages.STATIC_URL, StaticFiles(directory=pages.STATIC_DIR), name="static")  # before the pages' catch-all
    app.include_router(pages.router)
    app.add_middleware(SafeHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # always installed, so a preflight is answered (200 for a listed origin, 400 otherwise) instead of 405
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "PUT"],
                       allow_headers=["X-API-Key", "Content-Type"], allow_credentials=False, max_age=600)
    return app
