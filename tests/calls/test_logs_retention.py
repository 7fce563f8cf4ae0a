"""Keeping web service logs for AUTHWIRE_LOG_RETENTION_DAYS, and no longer."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import anyio
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from authwire.calls.logs import delete_older_than, run_retention
from authwire.db.models import WebServiceLog
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.settings import Settings
from tests.calls.test_logs import add_entries, entry, make_desk


async def remaining_ids(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(select(WebServiceLog.id).order_by(WebServiceLog.id))
        )


async def test_retention_deletes_only_older_entries_in_batches_and_counts_them(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    ours = await make_desk(runtime, "IT Desk")
    theirs = await make_desk(runtime, "HR Desk")
    now = utcnow()
    cutoff = now - timedelta(days=30)
    old = [cutoff - timedelta(days=n, seconds=1) for n in range(4)]
    await add_entries(
        runtime,
        *[entry(ours, created_at=moment) for moment in old],
        *[entry(theirs, created_at=moment) for moment in old[:3]],
    )
    kept = await add_entries(
        runtime,
        entry(ours, created_at=cutoff),  # exactly at the cutoff: kept
        entry(ours, created_at=now),
        entry(theirs, created_at=now - timedelta(days=29)),
    )

    with caplog.at_level(logging.INFO, logger="authwire.calls.logs"):
        async with runtime.sessions() as session:
            deleted = await delete_older_than(session, cutoff, batch_size=3)

    assert deleted == 7
    assert await remaining_ids(runtime) == kept
    assert "deleted 7 web service log entries" in caplog.text


async def test_retention_with_nothing_to_delete_reports_zero(
    runtime: Runtime,
) -> None:
    desk = await make_desk(runtime)
    kept = await add_entries(runtime, entry(desk))

    async with runtime.sessions() as session:
        deleted = await delete_older_than(session, utcnow() - timedelta(days=1))

    assert deleted == 0
    assert await remaining_ids(runtime) == kept


async def test_the_retention_job_deletes_at_start_and_stops_when_told(
    runtime: Runtime,
) -> None:
    desk = await make_desk(runtime)
    await add_entries(runtime, entry(desk, created_at=utcnow() - timedelta(days=3)))
    kept = await add_entries(runtime, entry(desk))
    settings = runtime.settings.model_copy(
        update={"log_retention_days": 2, "log_retention_interval_seconds": 3600}
    )
    job_runtime = dataclasses.replace(runtime, settings=settings)
    stop = anyio.Event()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as jobs:
            jobs.start_soon(run_retention, job_runtime, stop)
            for _ in range(100):
                if await remaining_ids(runtime) == kept:
                    break
                await anyio.sleep(0.05)
            stop.set()

    assert await remaining_ids(runtime) == kept


async def test_retention_of_zero_days_keeps_every_entry(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    desk = await make_desk(runtime)
    await add_entries(runtime, entry(desk, created_at=utcnow() - timedelta(days=3650)))
    settings = runtime.settings.model_copy(update={"log_retention_days": 0})

    with caplog.at_level(logging.INFO, logger="authwire.calls.logs"):
        with anyio.fail_after(10):
            # Returns at once: there is nothing to do, ever.
            await run_retention(
                dataclasses.replace(runtime, settings=settings), anyio.Event()
            )

    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count(WebServiceLog.id))) == 1
    assert "kept forever" in caplog.text


def test_retention_days_must_not_be_negative() -> None:
    with pytest.raises(ValidationError, match="log_retention_days"):
        Settings(log_retention_days=-1)
