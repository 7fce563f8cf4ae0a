"""Revoking the grant at the provider (RFC 7009) on delete and on request."""

from __future__ import annotations

from datetime import timedelta

import httpx2

from authwire.db.types import utcnow
from authwire.runtime import Runtime
from tests.helpers import account_path, create_account, give_tokens
from tests.provider import Provider, generate_and_consent, stored_tokens


async def grant_is_dead(
    provider: Provider, access_token: str, refresh_token: str
) -> bool:
    async with httpx2.AsyncClient() as http:
        api = await http.get(
            provider.server.api_url, headers={"Authorization": f"Bearer {access_token}"}
        )
        refresh = await http.post(
            provider.server.token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(provider.client.client_id, provider.client.client_secret),
        )
    return api.status_code == 401 and refresh.status_code == 400


async def authorized_with_revocation(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> int:
    account, page = await generate_and_consent(
        api,
        application_id,
        provider,
        revocation_endpoint=provider.server.revocation_endpoint,
    )
    assert page.status_code == 200, page.text
    return int(account["id"])


async def test_deleting_an_account_revokes_its_grant_at_the_provider(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_with_revocation(api, application_id, provider)
    access_token, refresh_token = await stored_tokens(runtime, account_id)

    deleted = await api.delete(account_path(application_id, account_id))

    assert deleted.status_code == 200
    assert deleted.json() == {
        "deleted": True,
        "revocation": {"revoked": True, "message": "The provider revoked the grant."},
    }
    assert await grant_is_dead(provider, access_token, refresh_token)
    assert (await api.get(account_path(application_id, account_id))).status_code == 404


async def test_revoking_forgets_the_tokens_and_keeps_the_account(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account_id = await authorized_with_revocation(api, application_id, provider)
    access_token, refresh_token = await stored_tokens(runtime, account_id)

    revoked = await api.post(f"{account_path(application_id, account_id)}/revocation")

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True
    shown = (await api.get(account_path(application_id, account_id))).json()
    assert shown["status"] == "not_authorized"
    assert shown["token"] is None
    assert await grant_is_dead(provider, access_token, refresh_token)


async def test_a_provider_without_a_revocation_endpoint_is_named_plainly(
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
    await give_tokens(runtime, account["id"], expires_at=utcnow() + timedelta(hours=1))
    deleted = await api.delete(account_path(application_id, account["id"]))
    assert deleted.status_code == 200
    assert deleted.json()["revocation"]["revoked"] is False
    assert "no revocation endpoint" in deleted.json()["revocation"]["message"]


async def test_an_unreachable_revocation_endpoint_still_lets_the_account_go(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    def unreachable(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    runtime.token_endpoint.transport = httpx2.MockTransport(unreachable)
    account = await create_account(
        api, application_id, revocation_endpoint="https://idp.test/revoke"
    )
    await give_tokens(runtime, account["id"], expires_at=utcnow() + timedelta(hours=1))
    path = account_path(application_id, account["id"])

    refused = await api.post(f"{path}/revocation")
    assert refused.status_code == 502
    assert "could not reach the revocation endpoint" in refused.json()["message"]
    assert (await api.get(path)).json()["token"] is not None

    deleted = await api.delete(path)
    assert deleted.status_code == 200
    assert deleted.json()["revocation"]["revoked"] is False
    assert "deleted all the same" in deleted.json()["revocation"]["message"]
