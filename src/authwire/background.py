"""The work a serving process does besides answering requests.

Each job runs until `stop` is set and survives its own errors; jobs that must
run in one process only (the refresher) elect a leader through the database.
"""

from __future__ import annotations

import logging

import anyio

from authwire.calls.logs import run_retention
from authwire.notifications.delivery import run_delivery_worker
from authwire.runtime import Runtime
from authwire.tokens.refresher import Refresher

log = logging.getLogger(__name__)


async def run_background(runtime: Runtime, stop: anyio.Event) -> None:
    async with anyio.create_task_group() as jobs:
        if runtime.settings.refresher_enabled:
            refresher = Refresher(
                engine=runtime.engine,
                keeper=runtime.keeper,
                settings=runtime.settings,
                metrics=runtime.metrics,
            )
            jobs.start_soon(refresher.run, stop, name="refresher")
        else:
            log.info("the background refresher is off (AUTHWIRE_REFRESHER_ENABLED)")
        jobs.start_soon(run_delivery_worker, runtime, stop, name="notifications")
        jobs.start_soon(run_retention, runtime, stop, name="log retention")
