"""What a running Authwire holds: settings, database, keys, clients, metrics.

The web app and the CLI both open one `Runtime` and pass it down; nothing is
kept in module globals, so several runtimes can live in one process (tests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import anyio
import httpx2
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from authwire.db import migrate
from authwire.db.engine import create_engine, create_sessionmaker
from authwire.errors import ConfigurationError
from authwire.metrics import Metrics
from authwire.oauth.discovery import ProviderMetadata, discover
from authwire.oauth.token_endpoint import TokenEndpointClient
from authwire.secrets import Keyring, load_or_create_key_file, parse_keys
from authwire.settings import Settings
from authwire.tokens.keeper import TokenKeeper

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    token_endpoint: TokenEndpointClient
    metrics: Metrics
    keeper: TokenKeeper

    async def discover(self, issuer: str) -> ProviderMetadata:
        """Read a provider's metadata, with the token endpoints' timeout."""
        return await discover(
            issuer,
            request_timeout=self.settings.token_request_timeout_seconds,
            transport=self.token_endpoint.transport,
        )

    async def aclose(self) -> None:
        await self.engine.dispose()


def load_keyring(settings: Settings) -> Keyring:
    if settings.secret_keys is not None:
        keys = parse_keys(settings.secret_keys.get_secret_value())
        if not keys:
            raise ConfigurationError("AUTHWIRE_SECRET_KEYS is set but holds no key.")
        return Keyring(keys)
    return Keyring(load_or_create_key_file(settings.data_dir))


async def ensure_schema(settings: Settings) -> None:
    """Migrate when configured to, else refuse to run on an old schema."""
    url = settings.effective_database_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.should_auto_migrate:
        await anyio.to_thread.run_sync(migrate.upgrade, url)
        return
    current = await anyio.to_thread.run_sync(migrate.current_revision, url)
    head = migrate.head_revision()
    if current != head:
        raise ConfigurationError(
            f"The database schema is at revision {current or 'none'}, this "
            f"version of Authwire needs {head}. Run `authwire migrate` once "
            "(or set AUTHWIRE_AUTO_MIGRATE=true) and start again."
        )


async def open_runtime(
    settings: Settings,
    *,
    token_transport: httpx2.AsyncBaseTransport | None = None,
    check_schema: bool = True,
) -> Runtime:
    keyring = load_keyring(settings)
    if check_schema:
        await ensure_schema(settings)
    engine = create_engine(settings.effective_database_url)
    sessions = create_sessionmaker(engine)
    token_endpoint = TokenEndpointClient(
        timeout=settings.token_request_timeout_seconds,
        default_lifetime=timedelta(seconds=settings.default_token_lifetime_seconds),
        transport=token_transport,
    )
    metrics = Metrics()
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keyring=keyring,
        token_endpoint=token_endpoint,
        metrics=metrics,
        keeper=TokenKeeper(
            sessions=sessions,
            keyring=keyring,
            token_endpoint=token_endpoint,
            metrics=metrics,
            skew=timedelta(seconds=settings.refresh_skew_seconds),
            backoff_max=timedelta(seconds=settings.refresh_backoff_max_seconds),
        ),
    )
