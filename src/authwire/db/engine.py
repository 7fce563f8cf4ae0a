"""Engines for SQLite (embedded) and PostgreSQL (scale-out).

Users write plain URLs (`sqlite:///...`, `postgresql://...`); the drivers are
chosen here: aiosqlite or psycopg for the service, pysqlite or psycopg for
migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from authwire.errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"AUTHWIRE_DATABASE_URL must be sqlite:///path or postgresql://..., "
            f"not a {name} URL."
        )
    return name


def async_url(url: str) -> str:
    parsed = make_url(url)
    if _backend(url) == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if _backend(url) == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(False)


def install_sqlite_pragmas(sync_engine: Any) -> None:
    """WAL lets readers work beside the one writer; foreign keys are off by
    default in SQLite and must be turned on for every connection."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An engine whose pool holds `pool_size` connections and as many again
    at peaks. A pool much smaller than the concurrent calls makes every
    third call open a connection (a thread on SQLite, a server process on
    PostgreSQL) and close it again."""
    pooling = {"pool_size": pool_size, "max_overflow": pool_size}
    if _backend(url) == "sqlite":
        engine = create_async_engine(async_url(url), **pooling)
        install_sqlite_pragmas(engine.sync_engine)
        return engine
    # pre_ping costs a round trip per checkout, and saves the first request
    # after a database restart from failing on a dead connection.
    return create_async_engine(async_url(url), pool_pre_ping=True, **pooling)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
