"""No API route is open: a token is needed, and it only reaches what it may."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
import pytest

from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.users import create_api_token, create_user
from authwire.web.app import create_app
from tests.helpers import GENERIC_ACCOUNT, give_tokens


def every_api_operation(runtime: Runtime) -> list[tuple[str, str]]:
    schema = create_app(runtime=runtime).openapi()
    operations = []
    for path, methods in schema["paths"].items():
        concrete = re.sub(r"\{[a-z_]+\}", "1", path)
        operations += [(method.upper(), concrete) for method in methods]
    return operations


@pytest.mark.parametrize("token", [None, "aw_not-a-real-token", "garbage"])
async def test_every_api_route_answers_401_without_a_valid_token(
    client: httpx2.AsyncClient, runtime: Runtime, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    operations = every_api_operation(runtime) + [
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
    ]
    assert len(operations) >= 10
    for method, path in operations:
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API token" in response.json()["message"]


async def test_openapi_lists_the_resources_with_a_token(
    api: httpx2.AsyncClient,
) -> None:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert (
        "/api/v1/applications/{application_id}/auth-accounts/{account_id}/authorization"
        in paths
    )


async def test_health_is_open(client: httpx2.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_a_user_sees_only_the_applications_granted_to_them(
    api: httpx2.AsyncClient, client: httpx2.AsyncClient, runtime: Runtime
) -> None:
    other = (await api.post("/api/v1/applications", json={"name": "HR Desk"})).json()
    async with runtime.sessions() as session:
        user = await create_user(session, "agent", password=None, is_superuser=False)
        token = await create_api_token(session, user, "t")
        await session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    mine = await client.post(
        "/api/v1/applications", json={"name": "Agent Desk"}, headers=headers
    )
    assert mine.status_code == 201
    listed = await client.get("/api/v1/applications", headers=headers)
    assert [a["name"] for a in listed.json()["items"]] == ["Agent Desk"]
    hidden = await client.get(
        f"/api/v1/applications/{other['id']}/auth-accounts", headers=headers
    )
    assert hidden.status_code == 404


async def test_metrics_are_in_prometheus_format(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json={"name": "T", "kind": "bearer", "bearer_token": "x"},
    )
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert (
        'authwire_auth_accounts{kind="bearer",status="authorized"} 1.0' in response.text
    )
    assert "authwire_http_requests_total" in response.text


async def test_metrics_report_each_accounts_refresh_history(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    account = (
        await api.post(
            f"/api/v1/applications/{application_id}/auth-accounts",
            json=GENERIC_ACCOUNT,
        )
    ).json()
    expires_at = utcnow() + timedelta(hours=1)
    await give_tokens(runtime, account["id"], expires_at=expires_at)
    response = await api.get("/metrics")
    labels = f'account_id="{account["id"]}",application_id="{application_id}"'
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if labels in line
    }
    expiry = values[f"authwire_token_expires_at_seconds{{{labels}}}"]
    assert expiry == pytest.approx(expires_at.timestamp(), abs=1)
    assert values[f"authwire_token_refresh_failures{{{labels}}}"] == 0
    assert values[f"authwire_auth_account_needs_reauthorization{{{labels}}}"] == 0
