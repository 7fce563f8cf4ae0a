"""Invalid auth accounts answer 422 with a message per field; nothing is saved."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from authwire.runtime import Runtime
from tests.helpers import GENERIC_ACCOUNT


async def post_account(
    api: httpx2.AsyncClient, application_id: int, body: dict[str, Any]
) -> httpx2.Response:
    return await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts", json=body
    )


async def account_count(api: httpx2.AsyncClient, application_id: int) -> int:
    response = await api.get(f"/api/v1/applications/{application_id}/auth-accounts")
    return len(response.json()["items"])


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"token_endpoint": "not a url"}, "token_endpoint", "absolute https://"),
        ({"token_endpoint": "ftp://idp.test/token"}, "token_endpoint", "https://"),
        (
            {"authorization_endpoint": "http://idp.example.com/auth"},
            "authorization_endpoint",
            "unencrypted",
        ),
        ({"token_endpoint": "https://idp.test/token#x"}, "token_endpoint", "fragment"),
        (
            {"token_endpoint": "https://u:p@idp.test/token"},
            "token_endpoint",
            "user name",
        ),
        ({"client_id": None}, "client_id", "is required"),
        ({"client_id": "   "}, "client_id", "is required"),
        ({"token_endpoint": None}, "token_endpoint", "is required"),
        ({"scope": 'read "write"'}, "scope", "not a valid scope"),
        ({"tenant": "common"}, "tenant", "not used by oauth2_generic"),
        ({"password": "x"}, "password", "not used by oauth2_generic"),
    ],
)
async def test_invalid_generic_account_is_refused_per_field(
    api: httpx2.AsyncClient,
    application_id: int,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = await post_account(api, application_id, {**GENERIC_ACCOUNT, **changes})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert words in body["fields"][field]
    assert await account_count(api, application_id) == 0


@pytest.mark.parametrize(
    ("field", "example"),
    [
        ("authorization_endpoint", "https://login.example.com/oauth2/authorize"),
        ("token_endpoint", "https://login.example.com/oauth2/token"),
        ("revocation_endpoint", "https://login.example.com/oauth2/revoke"),
        ("issuer", "https://login.example.com"),
    ],
)
async def test_a_url_field_that_is_not_a_url_shows_an_example_of_that_field(
    api: httpx2.AsyncClient, application_id: int, field: str, example: str
) -> None:
    response = await post_account(
        api, application_id, {**GENERIC_ACCOUNT, field: "idp.test/somewhere"}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    problem = body["fields"][field]
    assert problem == (
        f"must be an absolute https:// URL, such as {example}; http:// is accepted "
        "only for loopback hosts (such as localhost or 127.0.0.1) or with "
        "AUTHWIRE_ALLOW_HTTP_ENDPOINTS=true."
    )
    assert body["message"] == f"The auth account is not valid: {field} {problem}"


async def test_an_issuer_alone_that_is_not_a_url_is_refused_like_the_endpoints(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api,
        application_id,
        {
            "name": "D",
            "kind": "oauth2_generic",
            "client_id": "c",
            "issuer": "login.example.com",
        },
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert list(body["fields"]) == ["issuer"]
    assert "such as https://login.example.com;" in body["fields"]["issuer"]
    assert body["message"] == (
        f"The auth account is not valid: issuer {body['fields']['issuer']}"
    )
    assert await account_count(api, application_id) == 0


async def test_with_http_allowed_a_url_field_asks_for_either_scheme(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"allow_http_endpoints": True}
    )
    response = await post_account(
        api, application_id, {**GENERIC_ACCOUNT, "token_endpoint": "ftp://idp.test/t"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"]["token_endpoint"] == (
        "must be an absolute https:// or http:// URL, such as "
        "https://login.example.com/oauth2/token."
    )


async def test_unknown_kind_is_refused(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api, application_id, {**GENERIC_ACCOUNT, "kind": "saml"}
    )
    assert response.status_code == 422
    assert "kind" in response.json()["fields"]


async def test_unknown_field_is_refused(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api, application_id, {**GENERIC_ACCOUNT, "secret": "x"}
    )
    assert response.status_code == 422
    assert "not a known field" in response.json()["fields"]["secret"]


async def test_google_account_needs_a_scope(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api,
        application_id,
        {
            "name": "G",
            "kind": "oauth2_google",
            "client_id": "c",
            "client_secret": "s",
            "scope": " ",
        },
    )
    assert response.status_code == 422
    assert "spreadsheets" in response.json()["fields"]["scope"]


async def test_google_account_refuses_its_own_endpoints(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api, application_id, {**GENERIC_ACCOUNT, "kind": "oauth2_google"}
    )
    assert response.status_code == 422
    assert "choose oauth2_generic" in response.json()["fields"]["token_endpoint"]


async def test_every_problem_is_reported_at_once(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await post_account(
        api,
        application_id,
        {"name": "M", "kind": "oauth2_microsoft", "tenant": "bad tenant!"},
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) >= {
        "client_id",
        "client_secret",
        "scope",
        "tenant",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "B", "kind": "basic", "username": "u"},
        {"name": "K", "kind": "api_key", "api_key_name": "bad header", "api_key": "k"},
        {"name": "T", "kind": "bearer"},
        {"name": "C", "kind": "oauth2_client_credentials", "client_id": "c"},
    ],
)
async def test_incomplete_static_and_client_credentials_accounts_are_refused(
    api: httpx2.AsyncClient, application_id: int, body: dict[str, Any]
) -> None:
    response = await post_account(api, application_id, body)
    assert response.status_code == 422, response.text
    assert await account_count(api, application_id) == 0


async def test_duplicate_name_in_one_application_is_a_conflict(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    assert (await post_account(api, application_id, GENERIC_ACCOUNT)).status_code == 201
    again = await post_account(api, application_id, GENERIC_ACCOUNT)
    assert again.status_code == 409
    assert "already has an auth account named" in again.json()["message"]


async def test_invalid_update_changes_nothing(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    created = (await post_account(api, application_id, GENERIC_ACCOUNT)).json()
    path = f"/api/v1/applications/{application_id}/auth-accounts/{created['id']}"
    response = await api.patch(
        path, json={"description": "new", "token_endpoint": "nope", "scope": "a b"}
    )
    assert response.status_code == 422
    after = (await api.get(path)).json()
    assert after["description"] == ""
    assert after["scope"] == "read write"
    assert after["token_endpoint"] == GENERIC_ACCOUNT["token_endpoint"]


async def test_kind_cannot_be_changed(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    created = (await post_account(api, application_id, GENERIC_ACCOUNT)).json()
    response = await api.patch(
        f"/api/v1/applications/{application_id}/auth-accounts/{created['id']}",
        json={"kind": "bearer"},
    )
    assert response.status_code == 422
    assert "cannot be changed" in response.json()["fields"]["kind"]
