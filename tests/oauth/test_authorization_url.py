"""The URL that the Generate button sends the browser to."""

from __future__ import annotations

import httpx2
import pytest

from authwire.oauth.authorization_url import build_authorization_url
from tests.helpers import create_account, query_of, start_authorization

FLOW = {
    "response_type": "code",
    "client_id": "abc",
    "redirect_uri": "http://authwire.test/oauth/callback",
    "scope": "read write",
    "state": "st",
    "code_challenge": "cc",
    "code_challenge_method": "S256",
}
DEFAULTS = {
    "access_type": "offline",
    "prompt": "consent",
    "origin": "http://authwire.test",
}


def test_parameters_written_into_the_endpoint_are_kept() -> None:
    url = build_authorization_url(
        "https://accounts.example/auth?login_hint=ann%40example.edu&include_granted_scopes=true",
        FLOW,
        DEFAULTS,
    )
    query = query_of(url)
    assert query["login_hint"] == ["ann@example.edu"]
    assert query["include_granted_scopes"] == ["true"]
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["origin"] == ["http://authwire.test"]
    assert url.startswith("https://accounts.example/auth?")


def test_an_admin_written_prompt_wins_over_the_default() -> None:
    url = build_authorization_url(
        "https://as.example/auth?prompt=select_account", FLOW, DEFAULTS
    )
    assert query_of(url)["prompt"] == ["select_account"]


def test_flow_parameters_written_into_the_endpoint_are_replaced_not_duplicated() -> (
    None
):
    url = build_authorization_url(
        "https://as.example/auth?client_id=evil&state=fixed&redirect_uri=https://evil.example"
        "&response_type=token&code_challenge=x",
        FLOW,
        DEFAULTS,
    )
    query = query_of(url)
    for name, value in FLOW.items():
        assert query[name] == [value], name


def test_scope_spaces_are_percent_encoded() -> None:
    url = build_authorization_url("https://as.example/auth", FLOW, DEFAULTS)
    assert "scope=read%20write" in url


async def test_generic_account_url_has_every_parameter_of_the_flow(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(api, application_id)
    url = await start_authorization(api, application_id, account["id"])
    query = query_of(url)
    assert url.startswith("https://idp.test/oauth/authorize?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["authwire-client"]
    assert query["redirect_uri"] == ["http://authwire.test/oauth/callback"]
    assert query["scope"] == ["read write"]
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["origin"] == ["http://authwire.test"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43  # 256 bits, base64url


async def test_each_generate_uses_a_new_state_and_verifier(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(api, application_id)
    first = query_of(await start_authorization(api, application_id, account["id"]))
    second = query_of(await start_authorization(api, application_id, account["id"]))
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]


async def test_google_preset_uses_googles_endpoint(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(
        api,
        application_id,
        name="Sheets",
        kind="oauth2_google",
        authorization_endpoint=None,
        token_endpoint=None,
        scope="https://www.googleapis.com/auth/spreadsheets",
    )
    assert account["token_endpoint"] == "https://oauth2.googleapis.com/token"
    assert account["revocation_endpoint"] == "https://oauth2.googleapis.com/revoke"
    url = await start_authorization(api, application_id, account["id"])
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    query = query_of(url)
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["scope"] == ["https://www.googleapis.com/auth/spreadsheets"]


@pytest.mark.parametrize(
    ("tenant", "expected_tenant"),
    [(None, "common"), ("contoso.onmicrosoft.com", "contoso.onmicrosoft.com")],
)
async def test_microsoft_preset_uses_the_tenant_and_appends_offline_access(
    api: httpx2.AsyncClient,
    application_id: int,
    tenant: str | None,
    expected_tenant: str,
) -> None:
    account = await create_account(
        api,
        application_id,
        name="Graph",
        kind="oauth2_microsoft",
        authorization_endpoint=None,
        token_endpoint=None,
        tenant=tenant,
        scope="https://graph.microsoft.com/Files.ReadWrite",
    )
    base = f"https://login.microsoftonline.com/{expected_tenant}/oauth2/v2.0"
    assert account["token_endpoint"] == f"{base}/token"
    assert account["effective_scope"] == (
        "https://graph.microsoft.com/Files.ReadWrite offline_access"
    )
    url = await start_authorization(api, application_id, account["id"])
    assert url.startswith(f"{base}/authorize?")
    assert query_of(url)["scope"] == [
        "https://graph.microsoft.com/Files.ReadWrite offline_access"
    ]


async def test_microsoft_scope_that_has_offline_access_is_not_doubled(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    account = await create_account(
        api,
        application_id,
        name="Graph",
        kind="oauth2_microsoft",
        authorization_endpoint=None,
        token_endpoint=None,
        scope="offline_access User.Read",
    )
    assert account["effective_scope"] == "offline_access User.Read"


async def test_static_kinds_have_no_authorization_step(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json={"name": "Basic", "kind": "basic", "username": "u", "password": "p"},
    )
    account_id = response.json()["id"]
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts/{account_id}/authorization"
    )
    assert response.status_code == 422
    assert "no authorization step" in response.json()["message"]
