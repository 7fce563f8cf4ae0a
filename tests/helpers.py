"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

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
