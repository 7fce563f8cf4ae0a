"""How the keeper treats each kind of token endpoint failure, with a stand-in
token endpoint (httpx2.MockTransport) to produce each one on demand."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from authwire.db.models import TokenSet
from authwire.db.types import utcnow
from authwire.errors import AccountUnavailableError, TokenEndpointUnavailableError
from authwire.runtime import Runtime
from tests.helpers import (
    account_path,
    create_account,
    expire_tokens,
    give_tokens,
    notifications_of,
)
from tests.tokens.conftest import Handler, TokenEndpoint


async def token_set(runtime: Runtime, account_id: int) -> TokenSet:
    async with runtime.sessions() as session:
        found = await session.scalar(
            select(TokenSet).where(TokenSet.account_id == account_id)
        )
        assert found is not None
        return found


def answer(status: int, body: object = None, **kwargs: object) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if isinstance(body, dict):
            return httpx2.Response(status, json=body)
        return httpx2.Response(status, text=str(body or ""), **kwargs)  # type: ignore[arg-type]

    return handler


def hangs(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "handler",
    [
        answer(500, "<h1>Internal Server Error</h1>"),
        answer(200, "<html>Sign in</html>"),
        answer(503, {"error": "temporarily_unavailable"}),
        answer(429, {"error": "rate_limited"}),
        answer(408, "Request Timeout"),
        hangs,
    ],
    ids=["500", "html", "503-json", "429", "408", "timeout"],
)
async def test_a_transient_failure_leaves_the_account_authorized_and_backs_off(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    account_id: int,
    handler: Handler,
) -> None:
    token_endpoint.handler = handler
    with pytest.raises(TokenEndpointUnavailableError):
        await runtime.keeper.access_token(account_id)

    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "authorized"
    assert shown["token"]["last_refresh_error"]
    stored = await token_set(runtime, account_id)
    assert stored.consecutive_failures == 1
    assert stored.next_attempt_at is not None and stored.next_attempt_at > utcnow()
    assert await notifications_of(runtime, account_id) == []

    token_endpoint.handler = token_endpoint.fresh_tokens
    token = await runtime.keeper.access_token(account_id)
    assert token.value.reveal() == "at-new-1-0123456789"
    stored = await token_set(runtime, account_id)
    assert stored.consecutive_failures == 0
    assert stored.last_refresh_error is None


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (
            answer(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "AADSTS70008: The refresh token has expired",
                },
            ),
            "AADSTS70008",
        ),
        (answer(401, {"error": "invalid_client"}), "invalid_client"),
        (answer(400, {"error": "unauthorized_client"}), "unauthorized_client"),
        (answer(403, "Forbidden"), "HTTP 403"),
        (answer(404, "Not Found"), "HTTP 404"),
    ],
    ids=["invalid_grant", "invalid_client", "unauthorized_client", "403", "404"],
)
async def test_a_refusal_turns_the_account_to_needs_reauthorization_with_the_reason(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    account_id: int,
    handler: Handler,
    words: str,
) -> None:
    token_endpoint.handler = handler
    with pytest.raises(AccountUnavailableError) as refused:
        await runtime.keeper.access_token(account_id)
    assert refused.value.status_code == 401
    assert words in refused.value.message

    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "needs_reauthorization"
    assert words in shown["status_reason"]
    assert shown["status_changed_at"]
    assert await notifications_of(runtime, account_id) == [
        "account.needs_reauthorization"
    ]


async def test_a_response_without_expires_in_gets_the_default_lifetime(
    runtime: Runtime, token_endpoint: TokenEndpoint, account_id: int
) -> None:
    token_endpoint.handler = answer(
        200, {"access_token": "at-x-0123456789", "token_type": "Bearer"}
    )
    before = utcnow()
    token = await runtime.keeper.access_token(account_id)
    lifetime = timedelta(seconds=runtime.settings.default_token_lifetime_seconds)
    assert before + lifetime <= token.expires_at <= utcnow() + lifetime


async def test_a_response_without_a_refresh_token_keeps_the_old_one(
    runtime: Runtime, token_endpoint: TokenEndpoint, account_id: int
) -> None:
    token_endpoint.handler = answer(
        200,
        {"access_token": "at-x-0123456789", "token_type": "Bearer", "expires_in": 60},
    )
    await runtime.keeper.access_token(account_id)
    await expire_tokens(runtime, account_id)
    token_endpoint.handler = token_endpoint.fresh_tokens
    await runtime.keeper.access_token(account_id)
    assert token_endpoint.requests[1]["refresh_token"] == ["rt-initial-0123456789"]


async def test_a_refresh_sends_the_refresh_token_and_client_authentication(
    runtime: Runtime, token_endpoint: TokenEndpoint, account_id: int
) -> None:
    await runtime.keeper.access_token(account_id)
    [form] = token_endpoint.requests
    assert form["grant_type"] == ["refresh_token"]
    assert form["refresh_token"] == ["rt-initial-0123456789"]
    assert "scope" not in form  # the scope granted before


async def test_a_token_that_is_not_bearer_is_refused(
    runtime: Runtime, token_endpoint: TokenEndpoint, account_id: int
) -> None:
    token_endpoint.handler = answer(
        200, {"access_token": "x", "token_type": "mac", "expires_in": 60}
    )
    with pytest.raises(AccountUnavailableError, match="Bearer"):
        await runtime.keeper.access_token(account_id)


async def test_a_new_grant_that_lands_during_a_refused_refresh_wins(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    account_id: int,
) -> None:
    """Generate completes while a refresh waits for the provider, which then
    refuses the old grant: the account must end up with the new grant."""
    granted: list[asyncio.Task[None]] = []

    async def refuse_while_a_grant_lands(request: httpx2.Request) -> httpx2.Response:
        granted.append(
            asyncio.create_task(
                give_tokens(
                    runtime,
                    account_id,
                    expires_at=utcnow() + timedelta(hours=1),
                    access_token="at-from-generate-0123456789",
                )
            )
        )
        # On SQLite the grant is written now; on PostgreSQL it waits for the
        # row lock that the refresh holds, and is written after it.
        await asyncio.sleep(0.3)
        return httpx2.Response(400, json={"error": "invalid_grant"})

    token_endpoint.handler = refuse_while_a_grant_lands  # type: ignore[assignment]
    try:
        token = await runtime.keeper.access_token(account_id)
    except AccountUnavailableError:
        assert not runtime.settings.is_sqlite
    else:
        assert token.value.reveal() == "at-from-generate-0123456789"
    await granted[0]

    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "authorized"
    token = await runtime.keeper.access_token(account_id)
    assert token.value.reveal() == "at-from-generate-0123456789"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_client_credentials_accounts_get_a_token_when_they_need_one(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    token_endpoint: TokenEndpoint,
    method: str,
) -> None:
    account = await create_account(
        api,
        application_id,
        name="Machine",
        kind="oauth2_client_credentials",
        authorization_endpoint=None,
        scope="reports.read",
        token_endpoint_auth_method=method,
    )
    assert account["status"] == "not_authorized"
    generated = await api.post(
        f"{account_path(application_id, account['id'])}/authorization"
    )
    assert generated.status_code == 201, generated.text
    assert generated.json()["authorization_url"] is None
    assert generated.json()["status"] == "authorized"
    form = token_endpoint.requests[0]
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["reports.read"]
    assert ("client_secret" in form) == (method == "client_secret_post")

    shown = (await api.get(account_path(application_id, account["id"]))).json()
    assert shown["status"] == "authorized"
    activated = await api.patch(
        account_path(application_id, account["id"]), json={"active": True}
    )
    assert activated.json()["active"] is True

    first = await runtime.keeper.access_token(account["id"])
    assert not first.refreshed
    await expire_tokens(runtime, account["id"])
    second = await runtime.keeper.access_token(account["id"])
    assert second.refreshed and second.value != first.value
    assert len(token_endpoint.requests) == 2


async def test_client_credentials_generate_reports_a_refusal_without_a_401(
    api: httpx2.AsyncClient,
    application_id: int,
    token_endpoint: TokenEndpoint,
) -> None:
    account = await create_account(
        api,
        application_id,
        name="Machine",
        kind="oauth2_client_credentials",
        authorization_endpoint=None,
    )
    token_endpoint.handler = answer(401, {"error": "invalid_client"})
    generated = await api.post(
        f"{account_path(application_id, account['id'])}/authorization"
    )
    assert generated.status_code == 502
    assert "invalid_client" in generated.json()["message"]
    shown = (await api.get(account_path(application_id, account["id"]))).json()
    assert shown["status"] == "needs_reauthorization"

    token_endpoint.handler = token_endpoint.fresh_tokens
    generated = await api.post(
        f"{account_path(application_id, account['id'])}/authorization"
    )
    assert generated.status_code == 201
    shown = (await api.get(account_path(application_id, account["id"]))).json()
    assert shown["status"] == "authorized"


async def test_a_token_that_lives_60_seconds_is_used_until_near_its_end(
    runtime: Runtime, token_endpoint: TokenEndpoint, account_id: int
) -> None:
    """With the default 60 s skew, a 60 s token must not count as expiring
    the moment it is issued: one refresh, then reuse."""
    token_endpoint.handler = answer(
        200,
        {
            "access_token": "at-short-0123456789",
            "refresh_token": "rt-short-0123456789",
            "token_type": "Bearer",
            "expires_in": 60,
        },
    )
    first = await runtime.keeper.access_token(account_id)
    second = await runtime.keeper.access_token(account_id)
    assert first.refreshed and not second.refreshed
    assert len(token_endpoint.requests) == 1
