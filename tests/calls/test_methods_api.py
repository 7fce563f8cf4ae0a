"""Providers and methods through the API: validation per field, secret
entries that are never shown again, and what may not be deleted."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.calls.helpers import create_method, create_provider
from tests.upstream import Upstream

METHODS = "/api/v1/applications/{app}/web-service-methods"


@pytest.fixture
async def provider_id(
    api: httpx2.AsyncClient, application_id: int, upstream: Upstream
) -> int:
    return int((await create_provider(api, application_id, upstream.base_url))["id"])


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": "https://other.example/x"}, "url", "relative to the provider"),
        ({"url": "/x?a=1"}, "url", "query entries"),
        ({"url": "/x/{{ id"}, "url", "not a valid template"),
        ({"body": "{}", "content_type": "json"}, "body", "GET request has no body"),
        (
            {"http_method": "POST", "body": "x"},
            "content_type",
            "must say what the body is",
        ),
        (
            {"headers": [{"name": "Authorization", "value": "Bearer x"}]},
            "headers[0]",
            "set by Authwire",
        ),
        (
            {"headers": [{"name": "Bad Header", "value": "x"}]},
            "headers[0]",
            "not a valid header name",
        ),
        (
            {"query": [{"name": "k", "secret": True}]},
            "query[0]",
            "needs a value",
        ),
        ({"provider_id": 999}, "provider_id", "not a web service provider"),
        ({"auth_account_id": 999}, "auth_account_id", "not an auth account"),
        ({"timeout_seconds": 0}, "timeout_seconds", "greater than 0"),
        ({"http_method": "TRACE"}, "http_method", "input should be"),
    ],
)
async def test_an_invalid_method_is_refused_per_field(
    api: httpx2.AsyncClient,
    application_id: int,
    provider_id: int,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    body = {
        "name": "Bad",
        "provider_id": provider_id,
        "http_method": "GET",
        "url": "/x",
        **changes,
    }
    response = await api.post(METHODS.format(app=application_id), json=body)
    assert response.status_code == 422, response.text
    assert (
        words in response.json()["fields"][field].lower()
        or words in (response.json()["fields"][field])
    )
    listed = await api.get(METHODS.format(app=application_id))
    assert listed.json()["items"] == []


async def test_secret_entries_are_write_only_and_kept_when_left_out(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    method = await create_method(
        api,
        application_id,
        provider_id,
        headers=[
            {"name": "X-Key", "value": "hidden-value-123", "secret": True},
            {"name": "X-Plain", "value": "seen"},
        ],
    )
    assert "hidden-value-123" not in str(method)
    assert method["headers"][0] == {"name": "X-Key", "value": None, "secret": True}
    path = f"{METHODS.format(app=application_id)}/{method['id']}"
    updated = await api.patch(
        path,
        json={
            "headers": [
                {"name": "X-Key", "secret": True},
                {"name": "X-New", "value": "n"},
            ]
        },
    )
    assert updated.status_code == 200, updated.text
    result = await api.post(f"{path}/test", json={"parameters": {}})
    echoed = result.json()["body"]
    assert "hidden-value-123" not in echoed  # redacted in what is shown
    assert '"x-key":"[redacted]"' in echoed.replace(" ", "")
    assert '"x-new":"n"' in echoed.replace(" ", "")


async def test_an_account_in_use_cannot_be_deleted(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    account = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json={"name": "Static", "kind": "bearer", "bearer_token": "tok-123456"},
    )
    await create_method(
        api, application_id, provider_id, auth_account_id=account.json()["id"]
    )
    deleted = await api.delete(
        f"/api/v1/applications/{application_id}/auth-accounts/{account.json()['id']}"
    )
    assert deleted.status_code == 409
    assert "used by the web service methods 'Read'" in deleted.json()["message"]


async def test_a_provider_with_methods_cannot_be_deleted(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    await create_method(api, application_id, provider_id)
    deleted = await api.delete(
        f"/api/v1/applications/{application_id}/web-service-providers/{provider_id}"
    )
    assert deleted.status_code == 409
    assert "still has 1 web service methods" in deleted.json()["message"]


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("ftp://files.example", "https://"),
        ("http://api.example.com", "unencrypted"),
        ("https://api.example.com/v1?key=1", "query string"),
    ],
)
async def test_an_invalid_provider_is_refused(
    api: httpx2.AsyncClient, application_id: int, base_url: str, words: str
) -> None:
    response = await api.post(
        f"/api/v1/applications/{application_id}/web-service-providers",
        json={"name": "P", "base_url": base_url},
    )
    assert response.status_code == 422
    body = response.json()
    assert words in body["fields"]["base_url"]
    assert body["message"] == (
        f"The web service provider is not valid: base_url {body['fields']['base_url']}"
    )


async def test_a_provider_base_url_that_is_not_a_url_shows_a_base_url_example(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        f"/api/v1/applications/{application_id}/web-service-providers",
        json={"name": "P", "base_url": "api.example.com/v2"},
    )
    assert response.status_code == 422
    assert response.json()["fields"]["base_url"] == (
        "must be an absolute https:// URL, such as https://api.example.com/v2; "
        "http:// is accepted only for loopback hosts (such as localhost or "
        "127.0.0.1) or with AUTHWIRE_ALLOW_HTTP_ENDPOINTS=true."
    )


@pytest.mark.parametrize("field", ["provider_id", "auth_account_id"])
async def test_a_referenced_id_too_large_for_its_column_is_refused_with_a_422(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, field: str
) -> None:
    body = {
        "name": "Read",
        "provider_id": provider_id,
        "http_method": "GET",
        "url": "/x",
        field: 2**70,
    }
    created = await api.post(METHODS.format(app=application_id), json=body)
    assert created.status_code == 422, created.text
    assert set(created.json()["fields"]) == {field}
    assert "2147483647" in created.json()["message"]
    method = await create_method(api, application_id, provider_id)
    changed = await api.patch(
        f"{METHODS.format(app=application_id)}/{method['id']}", json={field: 2**40}
    )
    assert changed.status_code == 422, changed.text
    assert set(changed.json()["fields"]) == {field}


async def test_null_in_a_change_puts_a_setting_back_to_its_default(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    method = await create_method(
        api,
        application_id,
        provider_id,
        timeout_seconds=5,
        max_retries=4,
        sample_parameters={"id": 7},
    )
    path = f"{METHODS.format(app=application_id)}/{method['id']}"
    changed = await api.patch(
        path,
        json={"timeout_seconds": None, "max_retries": None, "sample_parameters": None},
    )
    assert changed.status_code == 200, changed.text
    stored = (await api.get(path)).json()
    assert stored["timeout_seconds"] == 30.0
    assert stored["max_retries"] == 2
    assert stored["sample_parameters"] == {}


@pytest.mark.parametrize("field", ["provider_id", "http_method", "url"])
async def test_null_for_a_field_a_method_needs_is_refused_and_nothing_changes(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, field: str
) -> None:
    method = await create_method(api, application_id, provider_id)
    path = f"{METHODS.format(app=application_id)}/{method['id']}"
    changed = await api.patch(path, json={field: None, "description": "new"})
    assert changed.status_code == 422, changed.text
    assert changed.json()["fields"] == {
        field: "cannot be null; leave it out to keep the current value."
    }
    assert (await api.get(path)).json() == method
