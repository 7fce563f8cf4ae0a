"""Small helpers shared by tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from sqlalchemy import select, update

from authwire.db.models import AuthAccount, Notification, TokenSet
from authwire.db.types import utcnow
from authwire.oauth.token_endpoint import TokenResponse
from authwire.runtime import Runtime
from authwire.secrets import Secret
from authwire.tokens.store import store_new_grant

BASE_URL = "http://authwire.test"

GENERIC_ACCOUNT: dict[str, Any] = {
    "name": "Vendor API",
    "kind": "oauth2_generic",
    "client_id": "authwire-client",
    "client_secret": "s3cret-client-value",
    "authorization_endpoint": "https://idp.test/oauth/authorize",
    "token_endpoint": "https://idp.test/oauth/token",
    "scope": "read write",
}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def create_account(
    api: httpx2.AsyncClient, application_id: int, **fields: Any
) -> dict[str, Any]:
    body = {**GENERIC_ACCOUNT, **fields}
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts", json=body
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def start_authorization(
    api: httpx2.AsyncClient, application_id: int, account_id: int
) -> str:
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts/{account_id}/authorization"
    )
    assert response.status_code == 201, response.text
    url: str = response.json()["authorization_url"]
    return url


def account_path(application_id: int, account_id: int) -> str:
    return f"/api/v1/applications/{application_id}/auth-accounts/{account_id}"


async def give_tokens(
    runtime: Runtime,
    account_id: int,
    *,
    expires_at: datetime,
    access_token: str = "at-initial-0123456789",
    refresh_token: str | None = "rt-initial-0123456789",
) -> None:
    """Give the account tokens, as a completed Generate does."""
    async with runtime.sessions() as session:
        account = await session.get(AuthAccount, account_id)
        assert account is not None
        response = TokenResponse(
            access_token=Secret(access_token),
            refresh_token=Secret(refresh_token) if refresh_token else None,
            token_type="Bearer",
            expires_at=expires_at,
            expires_in_given=True,
            scope=account.scope,
        )
        await store_new_grant(
            session, account, response, runtime.keyring, authorized_by_id=None
        )
        await session.commit()


async def expire_tokens(runtime: Runtime, account_id: int) -> None:
    """Let time pass: the account's access token is past its expiry."""
    async with runtime.sessions() as session:
        await session.execute(
            update(TokenSet)
            .where(TokenSet.account_id == account_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def notifications_of(runtime: Runtime, account_id: int) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(Notification.event)
            .where(Notification.account_id == account_id)
            .order_by(Notification.id)
        )
        return list(rows)
