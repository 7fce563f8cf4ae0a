"""After calls that use every kind of secret, against a service that echoes
them all back, no secret value is in the database or in the log output."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import pytest
from sqlalchemy import select

from authwire.db.models import Base
from authwire.runtime import Runtime
from tests.calls.helpers import create_method, create_provider, run_test_request
from tests.oauth.test_flow_with_real_server import read_database_files
from tests.provider import Provider, generate_and_consent, stored_tokens
from tests.upstream import Upstream

SECRETS = {
    "basic password": "basic-pass-7f3a9c",
    "api key (header)": "apikey-header-41b2e8",
    "api key (query)": "apikey-query-9d0c55",
    "static bearer token": "static-bearer-6e1f07",
    "secret header entry": "secret-header-2a7d93",
    "secret query entry": "secret-query-c48b16",
}


async def account(api: httpx2.AsyncClient, application_id: int, **body: Any) -> int:
    response = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts", json=body
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def all_rows(runtime: Runtime) -> str:
    lines = []
    async with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                lines.append(" ".join(str(value) for value in row))
    return "\n".join(lines)


async def test_no_secret_reaches_the_database_or_the_logs(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    upstream: Upstream,
    provider: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = await create_provider(api, application_id, upstream.base_url)
    accounts = {
        "basic": await account(
            api,
            application_id,
            name="Basic",
            kind="basic",
            username="svc",
            password=SECRETS["basic password"],
        ),
        "header key": await account(
            api,
            application_id,
            name="Header key",
            kind="api_key",
            api_key_name="X-Vendor-Key",
            api_key=SECRETS["api key (header)"],
        ),
        "query key": await account(
            api,
            application_id,
            name="Query key",
            kind="api_key",
            api_key_name="key",
            api_key_location="query",
            api_key=SECRETS["api key (query)"],
        ),
        "bearer": await account(
            api,
            application_id,
            name="Bearer",
            kind="bearer",
            bearer_token=SECRETS["static bearer token"],
        ),
    }
    for name, account_id in accounts.items():
        method = await create_method(
            api,
            application_id,
            echo["id"],
            name=f"Echo {name}",
            http_method="POST",
            url="/echo/secrets",
            auth_account_id=account_id,
            headers=[
                {
                    "name": "X-Secret",
                    "value": SECRETS["secret header entry"],
                    "secret": True,
                }
            ],
            query=[
                {
                    "name": "token",
                    "value": SECRETS["secret query entry"],
                    "secret": True,
                }
            ],
            content_type="text",
            body="{{ note }}",
        )
        result = await run_test_request(
            api, application_id, method["id"], {"note": "the body is not secret"}
        )
        assert result["success"] is True, result
        for secret in SECRETS.values():
            assert secret not in str(result), name

    # And an OAuth account, whose client secret and tokens must stay hidden.
    oauth_account, page = await generate_and_consent(api, application_id, provider)
    assert page.status_code == 200
    await api.patch(
        f"/api/v1/applications/{application_id}/auth-accounts/{oauth_account['id']}",
        json={"active": True},
    )
    oauth_provider = await create_provider(
        api, application_id, provider.server.base_url, name="OAuth API"
    )
    oauth_method = await create_method(
        api,
        application_id,
        oauth_provider["id"],
        name="Echo OAuth",
        http_method="POST",
        url="/api/echo",
        auth_account_id=oauth_account["id"],
    )
    result = await run_test_request(api, application_id, oauth_method["id"], {})
    assert result["success"] is True, result
    access_token, refresh_token = await stored_tokens(runtime, oauth_account["id"])
    secrets = {
        **SECRETS,
        "client secret": provider.client.client_secret,
        "access token": access_token,
        "refresh token": refresh_token,
    }

    rows = await all_rows(runtime)
    files = b""
    if runtime.settings.is_sqlite:
        await runtime.engine.dispose()
        database = runtime.settings.effective_database_url.removeprefix("sqlite:///")
        files = await anyio.to_thread.run_sync(read_database_files, database)
    assert "[redacted]" in rows
    for name, value in secrets.items():
        assert value not in rows, f"{name} is in the database"
        assert value.encode() not in files, f"{name} is in the database file"
        assert value not in caplog.text, f"{name} is in the log output"


async def test_cloud_metadata_addresses_are_refused_without_any_traffic(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    reached: list[str] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        reached.append(str(request.url))
        return httpx2.Response(200)

    runtime.caller._http = httpx2.AsyncClient(transport=httpx2.MockTransport(record))  # noqa: SLF001
    metadata = await create_provider(
        api, application_id, "https://169.254.169.254", name="Metadata"
    )
    method = await create_method(
        api, application_id, metadata["id"], url="/latest/meta-data/iam"
    )
    result = await run_test_request(api, application_id, method["id"], {})
    assert result["success"] is False
    assert "refused" in result["error"] and "169.254.169.254" in result["error"]
    assert reached == []


async def test_operators_can_refuse_more_hosts(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime, upstream: Upstream
) -> None:
    from authwire.calls.egress import EgressGuard

    runtime.caller._egress = EgressGuard.from_settings(  # noqa: SLF001
        "127.0.0.0/8", allow_metadata=False
    )
    echo = await create_provider(api, application_id, upstream.base_url)
    method = await create_method(api, application_id, echo["id"], url="/echo/denied")
    result = await run_test_request(api, application_id, method["id"], {})
    assert result["success"] is False and "127.0.0.0/8" in result["error"]
    assert upstream.hits["/echo/denied"] == 0
