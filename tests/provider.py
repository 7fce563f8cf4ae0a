"""Driving the real authorization server of the tests as a user would.

Loaded as a pytest plugin by tests/conftest.py, for the `provider` fixture: a
fresh user and a confidential client registered at the shared server.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest

from authwire.db.models import TokenSet
from authwire.runtime import Runtime
from tests.authorization_server.harness import (
    AuthorizationServer,
    Client,
    authorize_as_browser,
)
from tests.helpers import BASE_URL, start_authorization

REDIRECT_URI = f"{BASE_URL}/oauth/callback"
PASSWORD = "correct-horse-battery"
_users = itertools.count()


@dataclass
class Provider:
    server: AuthorizationServer
    client: Client
    username: str


@pytest.fixture
def provider(authorization_server: AuthorizationServer) -> Provider:
    username = f"user{next(_users)}"
    authorization_server.create_user(username, PASSWORD)
    client = authorization_server.create_client([REDIRECT_URI])
    return Provider(authorization_server, client, username)


def account_body(provider: Provider, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Provider API",
        "kind": "oauth2_generic",
        "client_id": provider.client.client_id,
        "client_secret": provider.client.client_secret,
        "authorization_endpoint": provider.server.authorization_endpoint,
        "token_endpoint": provider.server.token_endpoint,
        "scope": "read write",
        **changes,
    }


async def browse(url: str, provider: Provider, *, allow: bool = True) -> str:
    """Sign in and answer consent in a browser-like client (in a thread)."""
    return await anyio.to_thread.run_sync(
        lambda: authorize_as_browser(url, provider.username, PASSWORD, allow=allow)
    )


async def deliver(api: httpx2.AsyncClient, location: str) -> httpx2.Response:
    """Follow the provider's redirect to Authwire's callback, as the browser would."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return await api.get(f"{parts.path}?{parts.query}")


async def generate_and_consent(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, **changes: Any
) -> tuple[dict[str, Any], httpx2.Response]:
    created = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json=account_body(provider, **changes),
    )
    assert created.status_code == 201, created.text
    account = created.json()
    url = await start_authorization(api, application_id, account["id"])
    page = await deliver(api, await browse(url, provider))
    return account, page


async def stored_tokens(runtime: Runtime, account_id: int) -> tuple[str, str]:
    async with runtime.sessions() as session:
        token_set = await session.get(TokenSet, account_id)
        assert token_set is not None and token_set.refresh_token_enc is not None
        return (
            runtime.keyring.decrypt(token_set.access_token_enc),
            runtime.keyring.decrypt(token_set.refresh_token_enc),
        )
