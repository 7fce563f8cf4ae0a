"""Secrets are write-only; status and `active` follow DESIGN.md's rules."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from authwire.accounts.service import read_secrets
from authwire.db.models import AuthAccount, TokenSet
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from tests.helpers import GENERIC_ACCOUNT, account_path, create_account, give_tokens

SECRETS = {
    "oauth2_generic": {"client_secret": "generic-secret-1"},
    "oauth2_google": {"client_secret": "google-secret-1"},
    "oauth2_microsoft": {"client_secret": "microsoft-secret-1"},
    "oauth2_client_credentials": {"client_secret": "cc-secret-1"},
    "basic": {"password": "basic-password-1"},
    "api_key": {"api_key": "api-key-value-1"},
    "bearer": {"bearer_token": "static-bearer-1"},
}

BODIES: dict[str, dict[str, Any]] = {
    "oauth2_generic": dict(GENERIC_ACCOUNT),
    "oauth2_google": {"client_id": "g", "scope": "openid"},
    "oauth2_microsoft": {"client_id": "m", "scope": "User.Read"},
    "oauth2_client_credentials": {
        "client_id": "cc",
        "token_endpoint": "https://idp.test/token",
    },
    "basic": {"username": "svc"},
    "api_key": {"api_key_name": "X-API-Key"},
    "bearer": {},
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
async def test_secrets_are_never_returned(
    api: httpx2.AsyncClient, application_id: int, kind: str
) -> None:
    body = {**BODIES[kind], **SECRETS[kind], "name": f"acct-{kind}", "kind": kind}
    created = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts", json=body
    )
    assert created.status_code == 201, created.text
    listed = await api.get(f"/api/v1/applications/{application_id}/auth-accounts")
    shown = await api.get(account_path(application_id, created.json()["id"]))
    for response in (created, listed, shown):
        for value in SECRETS[kind].values():
            assert value not in response.text
    secret_name = next(iter(SECRETS[kind]))
    assert shown.json()[f"has_{secret_name}"] is True


async def test_replacing_a_secret_keeps_it_write_only(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = await create_account(api, application_id)
    path = account_path(application_id, account["id"])
    response = await api.patch(path, json={"client_secret": "replacement-secret"})
    assert response.status_code == 200
    assert "replacement-secret" not in response.text
    async with runtime.sessions() as session:
        row = await session.get(AuthAccount, account["id"])
        assert row is not None
        assert read_secrets(runtime.keyring, row)["client_secret"].reveal() == (
            "replacement-secret"
        )


async def test_static_accounts_are_authorized_and_active_at_once(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(
        api, application_id, kind="bearer", bearer_token="t", **_no_oauth()
    )
    assert account["status"] == "authorized"
    assert account["active"] is True


def _no_oauth() -> dict[str, Any]:
    return {
        "client_id": None,
        "client_secret": None,
        "authorization_endpoint": None,
        "token_endpoint": None,
        "scope": None,
    }


async def test_oauth_account_starts_not_authorized_and_cannot_be_made_active(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(api, application_id)
    assert account["status"] == "not_authorized"
    assert account["active"] is False
    assert account["redirect_uri"] == "http://authwire.test/oauth/callback"
    assert account["javascript_origin"] == "http://authwire.test"
    response = await api.patch(
        account_path(application_id, account["id"]), json={"active": True}
    )
    assert response.status_code == 422
    assert "Generate" in response.json()["fields"]["active"]


async def test_creating_an_active_oauth_account_is_refused(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json={**GENERIC_ACCOUNT, "active": True},
    )
    assert response.status_code == 422
    assert "active" in response.json()["fields"]


async def authorize_directly(runtime: Runtime, account_id: int) -> None:
    await give_tokens(runtime, account_id, expires_at=utcnow())


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "other"},
        {"token_endpoint": "https://idp.test/v2/token"},
        {"authorization_endpoint": "https://idp.test/v2/authorize"},
    ],
)
async def test_changing_the_grants_identity_clears_the_tokens(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    change: dict[str, str],
) -> None:
    account = await create_account(api, application_id)
    await authorize_directly(runtime, account["id"])
    path = account_path(application_id, account["id"])
    assert (await api.patch(path, json={"active": True})).json()["active"] is True

    after = (await api.patch(path, json=change)).json()
    assert after["status"] == "not_authorized"
    assert after["token"] is None
    assert after["active"] is False
    async with runtime.sessions() as session:
        assert (await session.scalars(select(TokenSet))).all() == []


async def test_changing_the_microsoft_tenant_clears_the_tokens(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = await create_account(
        api,
        application_id,
        kind="oauth2_microsoft",
        authorization_endpoint=None,
        token_endpoint=None,
        scope="User.Read",
    )
    await authorize_directly(runtime, account["id"])
    after = await api.patch(
        account_path(application_id, account["id"]), json={"tenant": "contoso.com"}
    )
    assert after.json()["status"] == "not_authorized"
    assert after.json()["token"] is None


async def test_changing_the_scope_asks_for_reauthorization_and_keeps_tokens(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = await create_account(api, application_id)
    await authorize_directly(runtime, account["id"])
    after = (
        await api.patch(
            account_path(application_id, account["id"]), json={"scope": "read"}
        )
    ).json()
    assert after["status"] == "needs_reauthorization"
    assert "'read write' to 'read'" in after["status_reason"]
    assert after["token"] is not None


async def test_changing_the_client_secret_keeps_the_tokens(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = await create_account(api, application_id)
    await authorize_directly(runtime, account["id"])
    after = (
        await api.patch(
            account_path(application_id, account["id"]),
            json={"client_secret": "rotated"},
        )
    ).json()
    assert after["status"] == "authorized"
    assert after["token"] is not None


async def test_deleting_an_account_removes_its_tokens(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = await create_account(api, application_id)
    await authorize_directly(runtime, account["id"])
    path = account_path(application_id, account["id"])
    deleted = await api.delete(path)
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True
    assert (await api.get(path)).status_code == 404
    async with runtime.sessions() as session:
        assert (await session.scalars(select(TokenSet))).all() == []


async def test_account_response_holds_no_ciphertext(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(api, application_id)
    assert "secrets_enc" not in json.dumps(account)
    assert "gAAAA" not in json.dumps(account)  # the prefix of every Fernet token
