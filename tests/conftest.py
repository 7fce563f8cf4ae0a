"""Fixtures shared by the whole suite.

Every test that takes `database_url` runs twice: on SQLite (a file in the
test's temporary folder) and on PostgreSQL, when AUTHWIRE_TEST_POSTGRES_URL
names a server (CI sets it). PostgreSQL tests share one database per test
session, migrated once and emptied before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import psycopg
import pytest
from sqlalchemy.engine import make_url

from authwire.db import migrate
from authwire.db.models import Base
from authwire.runtime import Runtime, open_runtime
from authwire.secrets import generate_key
from authwire.settings import Settings
from authwire.users import create_api_token, create_user
from authwire.web.app import create_app
from tests.helpers import BASE_URL

pytest_plugins = [
    "tests.authorization_server.plugin",
    "tests.provider",
    "tests.upstream",
]

POSTGRES_ENV = "AUTHWIRE_TEST_POSTGRES_URL"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, migrated to head."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set, so the PostgreSQL variant is skipped")
    name = f"authwire_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(_libpq(server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'authwire.db'}"
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        base_url=BASE_URL,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_keys=generate_key(),
        auto_migrate=database_url.startswith("sqlite"),
        token_request_timeout_seconds=3,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    opened = await open_runtime(settings)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client on the app, with no credentials."""
    app = create_app(runtime=runtime)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def admin_token(runtime: Runtime) -> str:
    async with runtime.sessions() as session:
        user = await create_user(session, "admin", password=None, is_superuser=True)
        token = await create_api_token(session, user, "tests")
        await session.commit()
    return token


@pytest.fixture
async def api(client: httpx2.AsyncClient, admin_token: str) -> httpx2.AsyncClient:
    """The same client, signed in as a superuser."""
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client


@pytest.fixture
async def application_id(api: httpx2.AsyncClient) -> int:
    response = await api.post("/api/v1/applications", json={"name": "IT Desk"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
