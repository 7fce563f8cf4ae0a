"""The background refresher: which accounts it renews, and who leads."""

from __future__ import annotations

from datetime import timedelta

import anyio
import httpx2
from sqlalchemy import update

from authwire.db.engine import create_engine
from authwire.db.models import TokenSet
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.tokens.refresher import Refresher
from tests.helpers import account_path, create_account, give_tokens
from tests.tokens.conftest import TokenEndpoint


def refresher_of(runtime: Runtime) -> Refresher:
    return Refresher(
        engine=runtime.engine,
        keeper=runtime.keeper,
        settings=runtime.settings,
        metrics=runtime.metrics,
    )


async def set_token(runtime: Runtime, account_id: int, **values: object) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(TokenSet).where(TokenSet.account_id == account_id).values(**values)
        )
        await session.commit()


async def test_tokens_expiring_soon_are_renewed_and_fresh_ones_are_left(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
) -> None:
    soon = await create_account(api, application_id, name="soon")
    later = await create_account(api, application_id, name="later")
    await give_tokens(runtime, soon["id"], expires_at=utcnow() + timedelta(minutes=2))
    # An hour-long token with two minutes left.
    await set_token(runtime, soon["id"], obtained_at=utcnow() - timedelta(minutes=58))
    await give_tokens(runtime, later["id"], expires_at=utcnow() + timedelta(hours=1))

    result = await refresher_of(runtime).run_once(jitter=False)

    assert result.renewed == [soon["id"]]
    assert len(token_endpoint.requests) == 1
    shown = (await api.get(account_path(application_id, soon["id"]))).json()
    assert shown["token"]["refresh_count"] == 1


async def test_a_short_lived_token_is_renewed_at_half_its_life_not_every_round(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
) -> None:
    account = await create_account(api, application_id, name="short")
    await give_tokens(
        runtime, account["id"], expires_at=utcnow() + timedelta(seconds=60)
    )
    refresher = refresher_of(runtime)
    assert await refresher.due_accounts() == []
    half_life = utcnow() + timedelta(seconds=31)
    assert await refresher.due_accounts(now=half_life) == [account["id"]]


async def test_idle_accounts_are_refreshed_daily_to_keep_the_refresh_token_alive(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
) -> None:
    idle = await create_account(api, application_id, name="idle")
    await give_tokens(runtime, idle["id"], expires_at=utcnow() + timedelta(hours=10))
    await set_token(runtime, idle["id"], obtained_at=utcnow() - timedelta(hours=25))

    result = await refresher_of(runtime).run_once(jitter=False)
    assert result.renewed == [idle["id"]]


async def test_an_account_in_backoff_waits_for_its_next_attempt(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    account_id: int,
) -> None:
    await set_token(
        runtime, account_id, next_attempt_at=utcnow() + timedelta(minutes=1)
    )
    assert await refresher_of(runtime).due_accounts() == []
    later = utcnow() + timedelta(minutes=2)
    assert await refresher_of(runtime).due_accounts(now=later) == [account_id]


async def test_a_round_reports_refusals_and_failures(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    account_id: int,
) -> None:
    token_endpoint.handler = lambda request: httpx2.Response(
        400, json={"error": "invalid_grant"}
    )
    result = await refresher_of(runtime).run_once(jitter=False)
    assert result.refused == [account_id]
    assert result.needing_reauthorization == 1
    # Accounts that need reauthorization are not retried.
    assert await refresher_of(runtime).due_accounts() == []

    other = await create_account(api, application_id, name="other")
    await give_tokens(runtime, other["id"], expires_at=utcnow())
    token_endpoint.handler = lambda request: httpx2.Response(503)
    result = await refresher_of(runtime).run_once(jitter=False)
    assert result.failed == [other["id"]]


async def test_the_refresher_stops_when_told(
    runtime: Runtime, token_endpoint: TokenEndpoint
) -> None:
    stop = anyio.Event()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(refresher_of(runtime).run, stop)
            await anyio.sleep(0.1)
            stop.set()


async def test_one_process_leads_on_postgresql(runtime: Runtime) -> None:
    if runtime.settings.is_sqlite:
        assert await refresher_of(runtime).is_leader()
        return
    other_engine = create_engine(runtime.settings.effective_database_url)
    try:
        first = refresher_of(runtime)
        second = Refresher(
            engine=other_engine,
            keeper=runtime.keeper,
            settings=runtime.settings,
            metrics=runtime.metrics,
        )
        assert await first.is_leader()
        assert await first.is_leader()  # keeps it
        assert not await second.is_leader()
        await first._drop_leadership()
        assert await second.is_leader()
        await second._drop_leadership()
    finally:
        await other_engine.dispose()
