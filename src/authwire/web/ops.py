"""/healthz for load balancers and /metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text

from authwire.db.models import AuthAccount
from authwire.web.deps import RuntimeDep, SessionDep, UserDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(session: SessionDep) -> JSONResponse:
    try:
        await session.execute(text("SELECT 1"))
    except Exception:  # the answer is the health check's whole point
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics")
async def metrics(session: SessionDep, runtime: RuntimeDep, _user: UserDep) -> Response:
    gauge = runtime.metrics.accounts
    gauge.clear()
    rows = await session.execute(
        select(AuthAccount.kind, AuthAccount.status, func.count()).group_by(
            AuthAccount.kind, AuthAccount.status
        )
    )
    for kind, status, count in rows:
        gauge.labels(kind=kind, status=status).set(count)
    return Response(
        runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
