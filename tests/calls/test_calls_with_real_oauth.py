"""A method against an API protected by the real authorization server of the
tests: it reads, keeps reading after expiry, and fails with 401 after the
grant is revoked, as the issue's user would see it in the logs."""

from __future__ import annotations

import json

import httpx2

from authwire.runtime import Runtime
from tests.calls.helpers import (
    create_method,
    create_provider,
    log_entry,
    run_test_request,
)
from tests.helpers import account_path, expire_tokens
from tests.provider import Provider, generate_and_consent


async def oauth_method(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> tuple[int, int]:
    account, page = await generate_and_consent(api, application_id, provider)
    assert page.status_code == 200, page.text
    activated = await api.patch(
        account_path(application_id, account["id"]), json={"active": True}
    )
    assert activated.json()["active"] is True
    web_provider = await create_provider(api, application_id, provider.server.base_url)
    method = await create_method(
        api,
        application_id,
        web_provider["id"],
        name="Who am I",
        url="/api/me",
        auth_account_id=account["id"],
    )
    return int(account["id"]), int(method["id"])


async def test_test_request_answers_with_the_apis_data_and_is_logged(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    _, method_id = await oauth_method(api, application_id, provider)
    result = await run_test_request(api, application_id, method_id, {})
    assert result["success"] is True, result
    assert json.loads(result["body"])["user"] == provider.username
    entry = await log_entry(runtime, result["log_id"])
    assert entry.success and entry.response_status == 200
    assert entry.account_name == "Provider API"
    assert json.loads(entry.request_headers)["Authorization"] == "[redacted]"


async def test_after_expiry_the_call_succeeds_with_one_refresh_logged(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id, method_id = await oauth_method(api, application_id, provider)
    await expire_tokens(runtime, account_id)
    first = await run_test_request(api, application_id, method_id, {})
    second = await run_test_request(api, application_id, method_id, {})
    assert first["success"] and second["success"]
    assert first["token_refreshed"] is True and second["token_refreshed"] is False
    assert (
        provider.server.token_requests(provider.client.client_id)["refresh_token"] == 1
    )


async def test_a_token_revoked_early_is_refreshed_once_on_401(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    """The provider drops the access token before its expiry (but not the
    grant): the 401 leads to one refresh and one more try."""
    account_id, method_id = await oauth_method(api, application_id, provider)
    async with runtime.sessions() as session:
        from authwire.db.models import TokenSet

        token_set = await session.get(TokenSet, account_id)
        assert token_set is not None
        token_set.access_token_enc = runtime.keyring.encrypt("revoked-early-0123")
        await session.commit()
    result = await run_test_request(api, application_id, method_id, {})
    assert result["success"] is True, result
    assert result["token_refreshed"] is True and result["attempts"] == 2


async def test_after_revocation_calls_fail_with_401_and_the_log_says_why(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id, method_id = await oauth_method(api, application_id, provider)
    provider.server.revoke_grants(provider.client.client_id)

    result = await run_test_request(api, application_id, method_id, {})

    assert result["success"] is False
    assert result["status"] == 401
    assert "invalid_grant" in result["error"]
    entry = await log_entry(runtime, result["log_id"])
    assert not entry.success and entry.response_status == 401
    assert "authorized again" in entry.error
    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "needs_reauthorization"

    # Every later call fails at once, with the reason, until Generate.
    again = await run_test_request(api, application_id, method_id, {})
    assert again["status"] == 401 and "authorized again" in again["error"]
    assert again["attempts"] == 0
