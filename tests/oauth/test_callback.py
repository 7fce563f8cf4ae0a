"""The callback: state checks, provider errors, issuer mix-up, the exchange.

The token endpoint here is a stand-in (httpx2.MockTransport) so that each
failure can be produced on demand; the flow against a real authorization
server is in test_flow_with_real_server.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest
from sqlalchemy import update

from authwire.db.models import Authorization
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from tests.helpers import create_account, query_of, start_authorization

Handler = Callable[[httpx2.Request], httpx2.Response]


def good_token_response(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "access_token": "at-" + "a" * 30,
            "refresh_token": "rt-" + "r" * 30,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "read write",
        },
    )


class TokenEndpoint:
    """Records the requests it gets and answers with `handler`."""

    def __init__(self, handler: Handler = good_token_response) -> None:
        self.handler = handler
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def token_endpoint(runtime: Runtime) -> TokenEndpoint:
    endpoint = TokenEndpoint()
    runtime.token_endpoint.timeout = 0.5
    runtime.token_endpoint.transport = httpx2.MockTransport(endpoint)
    return endpoint


async def generate(
    api: httpx2.AsyncClient, application_id: int, **fields: Any
) -> tuple[dict[str, Any], str]:
    account = await create_account(api, application_id, **fields)
    url = await start_authorization(api, application_id, account["id"])
    return account, query_of(url)["state"][0]


async def get_account(
    api: httpx2.AsyncClient, application_id: int, account_id: int
) -> dict[str, Any]:
    response = await api.get(
        f"/api/v1/applications/{application_id}/auth-accounts/{account_id}"
    )
    result: dict[str, Any] = response.json()
    return result


async def test_successful_callback_authorizes_the_account(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    account, state = await generate(api, application_id)
    page = await api.get("/oauth/callback", params={"code": "c0de", "state": state})
    assert page.status_code == 200
    assert "The access token was generated successfully" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

    stored = await get_account(api, application_id, account["id"])
    assert stored["status"] == "authorized"
    assert stored["token"]["has_refresh_token"] is True
    assert stored["token"]["authorized_by"] == "admin"
    assert stored["token"]["scope"] == "read write"
    assert "at-aaaa" not in json.dumps(stored)


async def test_code_exchange_sends_the_verifier_redirect_uri_and_client_auth(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(api, application_id)
    await api.get("/oauth/callback", params={"code": "c0de", "state": state})
    [request] = token_endpoint.requests
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["c0de"]
    assert form["redirect_uri"] == ["http://authwire.test/oauth/callback"]
    assert len(form["code_verifier"][0]) >= 43
    assert request.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in form


async def test_client_secret_post_sends_the_credentials_in_the_body(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(
        api, application_id, token_endpoint_auth_method="client_secret_post"
    )
    await api.get("/oauth/callback", params={"code": "c0de", "state": state})
    form = parse_qs(token_endpoint.requests[0].content.decode())
    assert form["client_id"] == ["authwire-client"]
    assert form["client_secret"] == ["s3cret-client-value"]
    assert "authorization" not in token_endpoint.requests[0].headers


async def test_unknown_state_is_refused(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    await generate(api, application_id)
    page = await api.get("/oauth/callback", params={"code": "c", "state": "forged"})
    assert page.status_code == 400
    assert "unknown" in page.text
    assert token_endpoint.requests == []


async def test_missing_state_is_refused(
    api: httpx2.AsyncClient, token_endpoint: TokenEndpoint
) -> None:
    page = await api.get("/oauth/callback", params={"code": "c"})
    assert page.status_code == 400
    assert "no state" in page.text


async def test_replayed_callback_is_refused(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(api, application_id)
    first = await api.get("/oauth/callback", params={"code": "c", "state": state})
    second = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert first.status_code == 200
    assert second.status_code == 400
    assert "already been used" in second.text
    assert len(token_endpoint.requests) == 1


async def test_expired_state_is_refused(
    api: httpx2.AsyncClient,
    application_id: int,
    token_endpoint: TokenEndpoint,
    runtime: Runtime,
) -> None:
    account, state = await generate(api, application_id)
    async with runtime.sessions() as session:
        await session.execute(
            update(Authorization).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    page = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert page.status_code == 400
    assert "expired" in page.text
    assert (await get_account(api, application_id, account["id"]))["status"] == (
        "not_authorized"
    )


async def test_access_denied_is_shown_plainly_and_changes_nothing(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    account, state = await generate(api, application_id)
    page = await api.get(
        "/oauth/callback",
        params={
            "error": "access_denied",
            "error_description": "The user said no",
            "state": state,
        },
    )
    assert page.status_code == 400
    assert "Access was not granted" in page.text
    assert "The user said no" in page.text
    assert token_endpoint.requests == []
    assert (await get_account(api, application_id, account["id"]))["status"] == (
        "not_authorized"
    )


async def test_provider_error_text_is_escaped_on_the_page(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(api, application_id)
    page = await api.get(
        "/oauth/callback",
        params={
            "error": "server_error",
            "error_description": "<script>x</script>",
            "state": state,
        },
    )
    assert "<script>x</script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_issuer_of_another_server_is_refused(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    account, state = await generate(api, application_id)
    page = await api.get(
        "/oauth/callback",
        params={"code": "c", "state": state, "iss": "https://attacker.test"},
    )
    assert page.status_code == 400
    assert "mix-up" in page.text
    assert token_endpoint.requests == []


async def test_issuer_on_the_authorization_endpoints_origin_is_accepted(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(api, application_id)
    page = await api.get(
        "/oauth/callback",
        params={"code": "c", "state": state, "iss": "https://idp.test"},
    )
    assert page.status_code == 200


async def test_configured_issuer_must_match_exactly(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(api, application_id, issuer="https://idp.test/tenant-a")
    page = await api.get(
        "/oauth/callback",
        params={"code": "c", "state": state, "iss": "https://idp.test/tenant-b"},
    )
    assert page.status_code == 400
    assert "mix-up" in page.text


async def test_google_callback_with_another_issuer_is_refused(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    _, state = await generate(
        api,
        application_id,
        kind="oauth2_google",
        authorization_endpoint=None,
        token_endpoint=None,
        scope="openid",
    )
    refused = await api.get(
        "/oauth/callback",
        params={"code": "c", "state": state, "iss": "https://idp.test"},
    )
    assert refused.status_code == 400


async def test_account_changed_after_generate_refuses_the_old_grant(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    account, state = await generate(api, application_id)
    changed = await api.patch(
        f"/api/v1/applications/{application_id}/auth-accounts/{account['id']}",
        json={"client_id": "another-client"},
    )
    assert changed.status_code == 200
    page = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert page.status_code == 400
    assert "changed after Generate" in page.text
    assert token_endpoint.requests == []


def no_refresh_token(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"access_token": "at-x", "token_type": "Bearer"})


@pytest.mark.parametrize(
    ("kind", "fields", "advice"),
    [
        ("oauth2_generic", {}, "Enable the refresh token grant"),
        (
            "oauth2_google",
            {"authorization_endpoint": None, "token_endpoint": None},
            "access_type=offline and prompt=consent",
        ),
        (
            "oauth2_microsoft",
            {"authorization_endpoint": None, "token_endpoint": None},
            "offline_access",
        ),
    ],
)
async def test_token_response_without_refresh_token_is_refused_with_advice(
    api: httpx2.AsyncClient,
    application_id: int,
    token_endpoint: TokenEndpoint,
    kind: str,
    fields: dict[str, Any],
    advice: str,
) -> None:
    token_endpoint.handler = no_refresh_token
    account, state = await generate(api, application_id, kind=kind, **fields)
    page = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert page.status_code == 400
    assert "no refresh token" in page.text
    assert advice in page.text
    stored = await get_account(api, application_id, account["id"])
    assert stored["status"] == "not_authorized"
    assert stored["token"] is None


def hangs(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


def unreachable(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def html_page(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, html="<html><body>Please sign in</body></html>")


def server_error(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(500, html="<h1>Internal Server Error</h1>")


def invalid_client(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        401,
        json={
            "error": "invalid_client",
            "error_description": "AADSTS7000215: bad secret",
        },
    )


@pytest.mark.parametrize(
    ("handler", "status", "words"),
    [
        (server_error, 502, "answered HTTP 500"),
        (html_page, 502, "not a JSON token response"),
        (hangs, 502, "did not answer within"),
        (unreachable, 502, "could not reach the token endpoint"),
        (invalid_client, 400, "AADSTS7000215"),
    ],
)
async def test_broken_token_endpoint_leaves_the_account_unchanged(
    api: httpx2.AsyncClient,
    application_id: int,
    token_endpoint: TokenEndpoint,
    handler: Handler,
    status: int,
    words: str,
) -> None:
    token_endpoint.handler = handler
    account, state = await generate(api, application_id)
    page = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert page.status_code == status
    assert words in page.text
    stored = await get_account(api, application_id, account["id"])
    assert stored["status"] == "not_authorized"
    assert stored["token"] is None


async def test_new_grant_restores_an_account_that_needs_reauthorization(
    api: httpx2.AsyncClient, application_id: int, token_endpoint: TokenEndpoint
) -> None:
    account, state = await generate(api, application_id)
    await api.get("/oauth/callback", params={"code": "c", "state": state})
    path = f"/api/v1/applications/{application_id}/auth-accounts/{account['id']}"
    await api.patch(path, json={"active": True})
    changed = await api.patch(path, json={"scope": "read write admin"})
    assert changed.json()["status"] == "needs_reauthorization"
    assert "scope changed" in changed.json()["status_reason"]

    state = query_of(await start_authorization(api, application_id, account["id"]))[
        "state"
    ][0]
    page = await api.get("/oauth/callback", params={"code": "c2", "state": state})
    assert page.status_code == 200
    restored = await get_account(api, application_id, account["id"])
    assert restored["status"] == "authorized"
    assert restored["status_reason"] is None
    assert restored["active"] is True
