"""The whole Generate flow against a real OAuth 2.0 authorization server
(django-oauth-toolkit on loopback): login, consent, redirect to Authwire's
callback, code exchange, and tokens that the provider's API accepts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx2
import pytest
from sqlalchemy import Table, select

from authwire.db.models import AuthAccount, Authorization, Base
from authwire.runtime import Runtime
from tests.helpers import account_path, start_authorization
from tests.provider import (
    Provider,
    account_body,
    browse,
    deliver,
    generate_and_consent,
    stored_tokens,
)


async def test_generate_with_login_and_consent_authorizes_the_account(
    api: httpx2.AsyncClient, application_id: int, provider: Provider, runtime: Runtime
) -> None:
    account, page = await generate_and_consent(api, application_id, provider)
    assert page.status_code == 200, page.text
    assert "The access token was generated successfully" in page.text

    shown = (await api.get(account_path(application_id, account["id"]))).json()
    assert shown["status"] == "authorized"
    assert shown["token"]["has_refresh_token"] is True
    assert shown["token"]["authorized_by"] == "admin"
    assert shown["token"]["scope"] == "read write"
    assert shown["token"]["expires_at"] > shown["token"]["obtained_at"]

    # The provider's own API accepts the access token Authwire stored.
    access_token, _ = await stored_tokens(runtime, account["id"])
    async with httpx2.AsyncClient() as http:
        me = await http.get(
            provider.server.api_url, headers={"Authorization": f"Bearer {access_token}"}
        )
    assert me.status_code == 200
    assert me.json()["user"] == provider.username


async def test_client_secret_post_works_with_a_real_server(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> None:
    _, page = await generate_and_consent(
        api, application_id, provider, token_endpoint_auth_method="client_secret_post"
    )
    assert page.status_code == 200, page.text


async def test_denying_consent_shows_access_denied_and_changes_nothing(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> None:
    path = f"/api/v1/applications/{application_id}/auth-accounts"
    account = (await api.post(path, json=account_body(provider))).json()
    url = await start_authorization(api, application_id, account["id"])
    page = await deliver(api, await browse(url, provider, allow=False))
    assert page.status_code == 400
    assert "Access was not granted" in page.text
    shown = await api.get(account_path(application_id, account["id"]))
    assert shown.json()["status"] == "not_authorized"


async def test_wrong_client_secret_is_reported_by_the_token_endpoint(
    api: httpx2.AsyncClient, application_id: int, provider: Provider
) -> None:
    account, page = await generate_and_consent(
        api, application_id, provider, client_secret="not-the-secret"
    )
    assert page.status_code == 400
    assert "invalid_client" in page.text
    assert "client secret" in page.text
    shown = await api.get(account_path(application_id, account["id"]))
    assert shown.json()["token"] is None


def read_database_files(database: str) -> bytes:
    """The SQLite file and its journal files, as the disk holds them."""
    paths = [Path(database + suffix) for suffix in ("", "-wal", "-shm")]
    return b"".join(path.read_bytes() for path in paths if path.exists())


async def all_rows_as_text(runtime: Runtime) -> str:
    """Every value of every table, as the database returns it."""
    chunks = []
    async with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            assert isinstance(table, Table)
            for row in (await session.execute(select(table))).all():
                chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


async def test_no_secret_is_stored_or_logged_in_plain_text(
    api: httpx2.AsyncClient,
    application_id: int,
    provider: Provider,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    account, page = await generate_and_consent(api, application_id, provider)
    assert page.status_code == 200, page.text
    access_token, refresh_token = await stored_tokens(runtime, account["id"])
    async with runtime.sessions() as session:
        record = (await session.scalars(select(Authorization))).one()
        verifier = runtime.keyring.decrypt(record.code_verifier_enc)
        stored = await session.get(AuthAccount, account["id"])
        assert stored is not None
    secrets = {
        "client secret": provider.client.client_secret,
        "access token": access_token,
        "refresh token": refresh_token,
        "PKCE verifier": verifier,
    }

    rows = await all_rows_as_text(runtime)
    files = b""
    if runtime.settings.is_sqlite:
        await runtime.engine.dispose()  # let SQLite write the WAL back
        database = runtime.settings.effective_database_url.removeprefix("sqlite:///")
        files = await anyio.to_thread.run_sync(read_database_files, database)
        assert len(files) > 10_000
    for name, value in secrets.items():
        assert len(value) >= 16, name
        assert value not in rows, f"{name} found in the database rows"
        assert value.encode() not in files, f"{name} found in the database file"
        assert value not in caplog.text, f"{name} found in the logs"
