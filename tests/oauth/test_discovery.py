"""Creating a Generic account from its issuer URL (RFC 8414 / OpenID
Connect discovery), against the real server and stand-ins for failures."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from authwire.oauth.discovery import metadata_urls
from authwire.runtime import Runtime
from tests.helpers import GENERIC_ACCOUNT, account_path, query_of, start_authorization
from tests.provider import Provider, account_body, browse, deliver


def test_metadata_urls_insert_and_append_the_well_known_path() -> None:
    assert metadata_urls("https://idp.test/tenant/a") == [
        "https://idp.test/.well-known/oauth-authorization-server/tenant/a",
        "https://idp.test/tenant/a/.well-known/openid-configuration",
    ]
    assert metadata_urls("https://idp.test") == [
        "https://idp.test/.well-known/oauth-authorization-server",
        "https://idp.test/.well-known/openid-configuration",
    ]


def issuer_only(provider: Provider) -> dict[str, Any]:
    body = account_body(provider, issuer=provider.server.issuer)
    del body["authorization_endpoint"], body["token_endpoint"]
    return body


async def test_an_issuer_alone_fills_the_endpoints_and_the_flow_works(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> None:
    created = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json=issuer_only(provider),
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["authorization_endpoint"] == provider.server.authorization_endpoint
    assert account["token_endpoint"] == provider.server.token_endpoint
    assert account["revocation_endpoint"] == provider.server.revocation_endpoint

    url = await start_authorization(api, application_id, account["id"])
    page = await deliver(api, await browse(url, provider))
    assert page.status_code == 200, page.text


async def test_discovered_endpoints_can_still_be_edited(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> None:
    account = (
        await api.post(
            f"/api/v1/applications/{application_id}/auth-accounts",
            json=issuer_only(provider),
        )
    ).json()
    edited = await api.patch(
        account_path(application_id, account["id"]),
        json={"revocation_endpoint": "https://idp.test/revoke"},
    )
    assert edited.status_code == 200
    assert edited.json()["revocation_endpoint"] == "https://idp.test/revoke"
    assert edited.json()["token_endpoint"] == provider.server.token_endpoint


def metadata(document: dict[str, Any]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.startswith("/.well-known/oauth-authorization-server"):
            return httpx2.Response(200, json=document)
        if request.url.path == "/token":
            return httpx2.Response(
                200,
                json={
                    "access_token": "at-0123456789",
                    "refresh_token": "rt-0123456789",
                    "token_type": "Bearer",
                    "expires_in": 60,
                },
            )
        return httpx2.Response(404)

    return httpx2.MockTransport(handler)


async def post_issuer_account(
    api: httpx2.AsyncClient, application_id: int, issuer: str
) -> httpx2.Response:
    body = {**GENERIC_ACCOUNT, "issuer": issuer}
    del body["authorization_endpoint"], body["token_endpoint"]
    return await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts", json=body
    )


async def test_metadata_that_names_another_issuer_is_refused(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    runtime.token_endpoint.transport = metadata(
        {
            "issuer": "https://attacker.test",
            "authorization_endpoint": "https://attacker.test/a",
            "token_endpoint": "https://attacker.test/t",
        }
    )
    response = await post_issuer_account(api, application_id, "https://idp.test")
    assert response.status_code == 422
    assert "RFC 8414 section 3.3" in response.json()["fields"]["issuer"]
    listed = await api.get(f"/api/v1/applications/{application_id}/auth-accounts")
    assert listed.json()["items"] == []


async def test_an_issuer_without_metadata_asks_for_the_endpoints(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    runtime.token_endpoint.transport = httpx2.MockTransport(
        lambda request: httpx2.Response(404)
    )
    response = await post_issuer_account(api, application_id, "https://idp.test")
    assert response.status_code == 422
    problem = response.json()["fields"]["issuer"]
    assert "no metadata document was found" in problem
    assert "enter the authorization and token endpoints yourself" in problem


@pytest.mark.parametrize(("iss", "status"), [(None, 400), ("https://idp.test", 200)])
async def test_a_provider_that_promises_iss_must_send_it(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    iss: str | None,
    status: int,
) -> None:
    runtime.token_endpoint.transport = metadata(
        {
            "issuer": "https://idp.test",
            "authorization_endpoint": "https://idp.test/authorize",
            "token_endpoint": "https://idp.test/token",
            "authorization_response_iss_parameter_supported": True,
        }
    )
    account = (
        await post_issuer_account(api, application_id, "https://idp.test")
    ).json()
    state = query_of(await start_authorization(api, application_id, account["id"]))[
        "state"
    ][0]
    params = {"code": "c", "state": state} | ({"iss": iss} if iss else {})
    page = await api.get("/oauth/callback", params=params)
    assert page.status_code == status, page.text
