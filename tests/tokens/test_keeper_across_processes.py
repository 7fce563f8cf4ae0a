"""Processes that share only a PostgreSQL database still refresh an expired
token once between them.

Inside one process the keeper coalesces callers in memory; between processes
only the database can keep them apart, with `SELECT ... FOR UPDATE` on the
account's row and a fresh read once the lock is held. This test runs real
worker processes (`tests.tokens.storm_worker`) against a real token endpoint
on 127.0.0.1, so that nothing in memory is shared by accident.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from authwire.runtime import Runtime, open_runtime
from authwire.secrets import generate_key
from authwire.settings import Settings
from tests.tokens.storm import (
    DelayedTokenEndpoint,
    running_token_endpoint,
    storm_on_fresh_account,
)
from tests.tokens.storm_worker import digest

pytestmark = pytest.mark.skipif(
    not os.environ.get("AUTHWIRE_TEST_POSTGRES_URL"),
    reason="processes coordinate through PostgreSQL only: set "
    "AUTHWIRE_TEST_POSTGRES_URL to a server to run these tests",
)

PROCESSES = 4
CALLERS_PER_PROCESS = 100
# Long enough that every process finds the token expired and queues behind
# the one refresh; the test asserts that they did (see `waited` below).
TOKEN_ENDPOINT_DELAY = 0.3
# Start-up of four Python processes side by side on a small, busy machine
# (a storm with a worker that was late anyway is run again with more).
WORKER_START_IN = 6.0
# A bound on the storm itself (it takes about half a second): a hung worker
# fails the test instead of holding it.
STORM_TIMEOUT = 10.0


@pytest.fixture
def endpoint() -> Iterator[DelayedTokenEndpoint]:
    with running_token_endpoint(delay=TOKEN_ENDPOINT_DELAY) as endpoint:
        yield endpoint


@pytest.fixture
async def postgres_runtime(
    postgres_database: str, tmp_path: Path
) -> AsyncIterator[Runtime]:
    """A runtime on the session's PostgreSQL database, to set the account up;
    the workers open their own with its URL and key."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_database,
        secret_keys=generate_key(),
        auto_migrate=False,
    )
    runtime = await open_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def test_four_processes_on_postgresql_cause_exactly_one_refresh(
    postgres_runtime: Runtime, endpoint: DelayedTokenEndpoint
) -> None:
    account_id, storm = await storm_on_fresh_account(
        postgres_runtime,
        endpoint,
        callers=[CALLERS_PER_PROCESS] * PROCESSES,
        start_in=WORKER_START_IN,
        serve_within=STORM_TIMEOUT,
    )

    assert storm.errors == {}
    assert endpoint.requests == {"refresh_token": 1}
    # Every caller of every process holds the one token that refresh issued.
    assert storm.tokens == {endpoint.issued[0]: PROCESSES * CALLERS_PER_PROCESS}
    # And every one of them found the token expired and waited for a refresh:
    # no process came late to a token already renewed, so all four contended
    # for the same expiry (otherwise one request would prove nothing).
    waited = [report.waited for report in storm.reports]
    assert waited == [CALLERS_PER_PROCESS] * PROCESSES, (
        f"callers who waited, per process: {waited}; "
        f"seconds each worker was ready before the start: "
        f"{[round(report.slack, 2) for report in storm.reports]}"
    )

    # The winner committed what it got: the next caller, anywhere, reads it.
    later = await postgres_runtime.keeper.access_token(account_id)
    assert not later.refreshed
    assert digest(later.value.reveal()) == endpoint.issued[0]
    assert endpoint.requests == {"refresh_token": 1}
