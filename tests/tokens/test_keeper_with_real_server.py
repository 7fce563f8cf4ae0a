"""The token keeper against the real authorization server of the tests."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx2
import pytest

from authwire.errors import AccountUnavailableError
from authwire.runtime import Runtime
from tests.helpers import (
    account_path,
    expire_tokens,
    notifications_of,
    start_authorization,
)
from tests.provider import (
    Provider,
    browse,
    deliver,
    generate_and_consent,
    stored_tokens,
)


async def authorized_account(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> int:
    account, page = await generate_and_consent(api, application_id, provider)
    assert page.status_code == 200, page.text
    return int(account["id"])


async def call_api(provider: Provider, token: str) -> int:
    async with httpx2.AsyncClient() as http:
        response = await http.get(
            provider.server.api_url, headers={"Authorization": f"Bearer {token}"}
        )
    return response.status_code


@pytest.fixture
def restore_server(provider: Provider):  # type: ignore[no-untyped-def]
    yield
    provider.server.restore_defaults()


async def test_an_expired_token_is_refreshed_once_and_then_reused(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    await expire_tokens(runtime, account_id)

    first = await runtime.keeper.access_token(account_id)
    second = await runtime.keeper.access_token(account_id)

    assert first.refreshed and not second.refreshed
    assert second.value == first.value
    assert provider.server.token_requests(provider.client.client_id) == {
        "authorization_code": 1,
        "refresh_token": 1,
    }
    assert await call_api(provider, first.value.reveal()) == 200
    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["token"]["refresh_count"] == 1
    assert shown["token"]["last_refresh_at"] is not None


async def test_a_rotated_refresh_token_is_persisted_and_the_old_one_is_dead(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    _, old_refresh_token = await stored_tokens(runtime, account_id)
    await expire_tokens(runtime, account_id)
    await runtime.keeper.access_token(account_id)

    _, new_refresh_token = await stored_tokens(runtime, account_id)
    assert new_refresh_token != old_refresh_token
    async with httpx2.AsyncClient() as http:
        replay = await http.post(
            provider.server.token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": old_refresh_token},
            auth=(provider.client.client_id, provider.client.client_secret),
        )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_a_grant_revoked_at_the_provider_needs_reauthorization_until_generate(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    provider.server.revoke_grants(provider.client.client_id)
    await expire_tokens(runtime, account_id)

    with pytest.raises(AccountUnavailableError) as refused:
        await runtime.keeper.access_token(account_id)
    assert refused.value.status_code == 401
    assert "invalid_grant" in refused.value.message
    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "needs_reauthorization"
    assert "invalid_grant" in shown["status_reason"]

    # Later calls fail at once, without asking the provider again.
    requests_before = provider.server.token_requests(provider.client.client_id)
    with pytest.raises(AccountUnavailableError, match="authorized again"):
        await runtime.keeper.access_token(account_id)
    assert provider.server.token_requests(provider.client.client_id) == requests_before
    assert await notifications_of(runtime, account_id) == [
        "account.needs_reauthorization"
    ]

    url = await start_authorization(api, application_id, account_id)
    page = await deliver(api, await browse(url, provider))
    assert page.status_code == 200, page.text
    token = await runtime.keeper.access_token(account_id)
    assert await call_api(provider, token.value.reveal()) == 200
    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "authorized"
    assert await notifications_of(runtime, account_id) == [
        "account.needs_reauthorization",
        "account.recovered",
    ]


async def test_a_401_refreshes_once_and_a_stale_rejection_reuses_the_new_token(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    used = await runtime.keeper.access_token(account_id)

    renewed = await runtime.keeper.refresh_after_rejection(account_id, used.version)
    again = await runtime.keeper.refresh_after_rejection(account_id, used.version)

    assert renewed.version == used.version + 1
    assert again.value == renewed.value
    assert (
        provider.server.token_requests(provider.client.client_id)["refresh_token"] == 1
    )


async def test_a_thousand_concurrent_callers_cause_one_refresh(
    api: httpx2.AsyncClient,
    application_id: int,
    provider: Provider,
    runtime: Runtime,
    restore_server: None,
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    await expire_tokens(runtime, account_id)
    provider.server.set_token_delay(0.3)

    tokens = await asyncio.gather(
        *(runtime.keeper.access_token(account_id) for _ in range(1000))
    )

    assert len({token.value.reveal() for token in tokens}) == 1
    assert (
        provider.server.token_requests(provider.client.client_id)["refresh_token"] == 1
    )


async def test_a_cancelled_caller_does_not_cancel_the_refresh_for_the_others(
    api: httpx2.AsyncClient,
    application_id: int,
    provider: Provider,
    runtime: Runtime,
    restore_server: None,
) -> None:
    account_id = await authorized_account(api, application_id, provider)
    await expire_tokens(runtime, account_id)
    provider.server.set_token_delay(0.3)

    impatient = asyncio.create_task(runtime.keeper.access_token(account_id))
    patient = asyncio.create_task(runtime.keeper.access_token(account_id))
    await asyncio.sleep(0.1)
    impatient.cancel()

    token = await patient
    assert impatient.cancelled()
    assert await call_api(provider, token.value.reveal()) == 200


async def test_a_short_lived_token_keeps_working_through_many_calls(
    api: httpx2.AsyncClient,
    application_id: int,
    provider: Provider,
    runtime: Runtime,
    restore_server: None,
) -> None:
    """The user's promise in miniature: a token living 2 s (not 60), used
    for 5 s (not an hour), with nobody touching the account."""
    provider.server.set_access_token_lifetime(2)
    runtime.keeper.skew = timedelta(seconds=1)
    account_id = await authorized_account(api, application_id, provider)

    statuses = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        token = await runtime.keeper.access_token(account_id)
        statuses.append(await call_api(provider, token.value.reveal()))
        await asyncio.sleep(0.2)

    assert len(statuses) >= 10
    assert set(statuses) == {200}
    refreshes = provider.server.token_requests(provider.client.client_id)
    # Five seconds of a two-second token cannot be covered by fewer than two
    # renewals, and a renewal on every call would mean the margin is wrong.
    assert 2 <= refreshes["refresh_token"] <= len(statuses) // 3
