"""The application factory."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from authwire import __version__
from authwire.background import run_background
from authwire.gc_tuning import tune_garbage_collector
from authwire.runtime import Runtime, open_runtime
from authwire.settings import Settings
from authwire.users import count_users
from authwire.web import callback, ops
from authwire.web.api import (
    applications,
    auth_accounts,
    logs,
    methods,
    providers,
    webhooks,
)
from authwire.web.deps import UserDep, refuse_unknown_query_parameters
from authwire.web.errors import ErrorOut, install_error_handlers

log = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API token, or an invalid one."},
    404: {"model": ErrorOut, "description": "No such resource, or not yours."},
    409: {"model": ErrorOut, "description": "A name that is already taken."},
    422: {"model": ErrorOut, "description": "Invalid input; `fields` says where."},
}


class MeOut(BaseModel):
    username: str
    is_superuser: bool


def _api_router() -> APIRouter:
    api = APIRouter(
        prefix="/api/v1",
        responses=_ERRORS,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )

    @api.get("/me", response_model=MeOut, tags=["users"])
    async def me(user: UserDep) -> MeOut:
        return MeOut(username=user.username, is_superuser=user.is_superuser)

    api.include_router(applications.router)
    api.include_router(auth_accounts.router)
    api.include_router(webhooks.router)
    api.include_router(providers.router)
    api.include_router(methods.router)
    api.include_router(logs.router)
    return api


async def _announce_first_start(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        if await count_users(session) == 0:
            command = _own_command()
            log.warning(
                "No users yet. Create the first admin with: "
                "%s users create <username> --superuser --no-password "
                "(or --password-stdin to sign in with a password later), "
                "then an API token with: %s tokens create <username>",
                command,
                command,
            )


def _own_command() -> str:
    """How the operator started this process (`.venv/bin/authwire`, say), so
    that the advice can be pasted as it is; plain `authwire` otherwise."""
    started_as = sys.argv[0] if sys.argv else ""
    if Path(started_as).name == "authwire":
        return started_as
    return "authwire"


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None
) -> FastAPI:
    """Build the app. With `runtime`, the caller owns it and runs any
    background work (tests, embedding); otherwise the app opens one at
    start-up, runs the background jobs, and closes it all at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        opened = await open_runtime(settings or Settings())
        app.state.runtime = opened
        await _announce_first_start(opened)
        tune_garbage_collector(opened.settings.gc_threshold)
        stop = anyio.Event()
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(run_background, opened, stop)
                try:
                    yield
                finally:
                    stop.set()
        finally:
            await opened.aclose()

    app = FastAPI(
        title="Authwire",
        version=__version__,
        summary="Credentials, OAuth 2.0 token keeping and web service calls.",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind sign-in like every route
        docs_url=None,
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(_api_router())
    app.include_router(callback.router)
    app.include_router(ops.router)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_user: UserDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        runtime_ = getattr(request.app.state, "runtime", None)
        if runtime_ is not None:
            runtime_.metrics.http_requests.labels(
                method=request.method, route=path, status=str(response.status_code)
            ).inc()
        return response

    return app
