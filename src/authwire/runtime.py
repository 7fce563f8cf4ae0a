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

from authwire import __version__
from authwire.calls import network
from authwire.calls.egress import EgressGuard
from authwire.calls.executor import Caller
from authwire.calls.log_writer import LogWriter
from authwire.data_dir import ensure_data_dir
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
    http_client: httpx2.AsyncClient
    caller: Caller

    async def discover(self, issuer: str) -> ProviderMetadata:
        """Read a provider's metadata, with the token endpoints' timeout."""
        return await discover(
            issuer,
            request_timeout=self.settings.token_request_timeout_seconds,
            transport=self.token_endpoint.transport,
        )

    async def aclose(self) -> None:
        await self.http_client.aclose()
        await self.token_endpoint.aclose()
        await self.engine.dispose()


def quiet_http_client_logs() -> None:
    """httpx2 logs every request's full URL at INFO, and a method's query
    string may carry a secret (an API key, a secret entry; encode/httpx#2760).
    Keep its loggers at WARNING, whatever level the rest of the process logs
    at, so that no secret reaches the log output through them."""
    for name in ("httpx2", "httpx", "httpcore2", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


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
        ensure_data_dir(settings.data_dir)
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
    call_transport: httpx2.AsyncBaseTransport | None = None,
    check_schema: bool = True,
) -> Runtime:
    """Open everything a running Authwire needs. The transports are for tests
    that put a failing provider in the way; by default the network is used."""
    quiet_http_client_logs()
    keyring = load_keyring(settings)
    if check_schema:
        await ensure_schema(settings)
    engine = create_engine(
        settings.effective_database_url, pool_size=settings.database_pool_size
    )
    sessions = create_sessionmaker(engine)
    token_endpoint = TokenEndpointClient(
        timeout=settings.token_request_timeout_seconds,
        default_lifetime=timedelta(seconds=settings.default_token_lifetime_seconds),
        transport=token_transport,
    )
    metrics = Metrics()
    keeper = TokenKeeper(
        sessions=sessions,
        keyring=keyring,
        token_endpoint=token_endpoint,
        metrics=metrics,
        skew=timedelta(seconds=settings.refresh_skew_seconds),
        backoff_max=timedelta(seconds=settings.refresh_backoff_max_seconds),
    )
    # One client for every call: connections to a provider are pooled and
    # reused. Redirects are not followed: a 3xx is the method's answer.
    http_client = httpx2.AsyncClient(
        transport=call_transport,
        follow_redirects=False,
        limits=httpx2.Limits(
            max_connections=settings.call_max_connections,
            max_keepalive_connections=settings.call_max_connections,
        ),
        headers={"User-Agent": f"Authwire/{__version__}"},
    )
    egress = EgressGuard.from_settings(
        settings.egress_deny, allow_metadata=settings.egress_allow_metadata
    )
    egress_at_connect = network.install(http_client, egress)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keyring=keyring,
        token_endpoint=token_endpoint,
        metrics=metrics,
        keeper=keeper,
        http_client=http_client,
        caller=Caller(
            sessions=sessions,
            keyring=keyring,
            keeper=keeper,
            settings=settings,
            metrics=metrics,
            http_client=http_client,
            log_writer=LogWriter(sessions),
            egress=egress,
            egress_at_connect=egress_at_connect,
        ),
    )
