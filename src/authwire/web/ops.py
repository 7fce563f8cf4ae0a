"""/healthz for load balancers and /metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountStatus
from authwire.db.models import AuthAccount, TokenSet
from authwire.metrics import Metrics
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
    await _per_account(session, runtime.metrics)
    return Response(
        runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


async def _per_account(session: AsyncSession, metrics: Metrics) -> None:
    """Refresh history per account, read from the database at scrape time so
    that every process reports the same figures."""
    gauges = (
        metrics.token_expiry,
        metrics.token_last_refresh,
        metrics.token_refreshes,
        metrics.token_failures,
        metrics.account_needs_reauthorization,
    )
    for gauge in gauges:
        gauge.clear()
    rows = await session.execute(
        select(
            AuthAccount.application_id,
            AuthAccount.id,
            AuthAccount.status,
            TokenSet.expires_at,
            TokenSet.last_refresh_at,
            TokenSet.refresh_count,
            TokenSet.consecutive_failures,
        ).outerjoin(TokenSet, TokenSet.account_id == AuthAccount.id)
    )
    for row in rows:
        labels = {"application_id": str(row.application_id), "account_id": str(row.id)}
        metrics.account_needs_reauthorization.labels(**labels).set(
            1 if row.status == AccountStatus.NEEDS_REAUTHORIZATION else 0
        )
        if row.expires_at is None:
            continue
        metrics.token_expiry.labels(**labels).set(row.expires_at.timestamp())
        last = row.last_refresh_at.timestamp() if row.last_refresh_at else 0
        metrics.token_last_refresh.labels(**labels).set(last)
        metrics.token_refreshes.labels(**labels).set(row.refresh_count)
        metrics.token_failures.labels(**labels).set(row.consecutive_failures)
