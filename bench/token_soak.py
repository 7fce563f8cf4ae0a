"""Soak: an access token that lives 60 seconds, used for a long while.

The promise of the token keeper, tried as a user would: an account is
authorized once (login and consent at a real authorization server), its
access token lives 60 s, and a protected API is called through the call path
every few seconds for `--minutes`, with the background refresher running and
nobody touching the account. Prints the calls, failures and refreshes, and
the share of calls that had to wait for a refresh (the refresher's job is to
keep that near zero). The baseline is zero failed calls.

    .venv/bin/python bench/token_soak.py --minutes 60
"""

from __future__ import annotations

import sys
from pathlib import Path

# The soak drives the test suite's authorization server; run from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import tempfile
import time
from urllib.parse import parse_qsl, urlsplit

import anyio
from tests.authorization_server.harness import AuthorizationServer, authorize_as_browser

from authwire.accounts.schemas import AuthAccountCreate, AuthAccountUpdate
from authwire.accounts.service import create_account, update_account
from authwire.applications import ApplicationCreate, create_application
from authwire.background import run_background
from authwire.calls.executor import CallContext
from authwire.calls.methods import MethodCreate, create_method
from authwire.calls.providers import ProviderCreate, create_provider
from authwire.oauth.flow import complete_authorization, start_authorization
from authwire.runtime import Runtime, open_runtime
from authwire.secrets import generate_key
from authwire.settings import Settings
from authwire.users import create_user

BASE_URL = "http://authwire.soak"


async def authorized_method(
    runtime: Runtime, server: AuthorizationServer
) -> tuple[int, int, str]:
    """Application, account (Generate, login, consent), provider, method."""
    server.create_user("soak", "soak-password-1")
    client = server.create_client([f"{BASE_URL}/oauth/callback"])
    async with runtime.sessions() as session:
        admin = await create_user(session, "admin", password=None, is_superuser=True)
        application = await create_application(
            session, admin, ApplicationCreate(name="Soak")
        )
        account = await create_account(
            session,
            runtime.keyring,
            runtime.settings,
            application.id,
            AuthAccountCreate(
                name="Soak API",
                kind="oauth2_generic",
                client_id=client.client_id,
                client_secret=client.client_secret,
                authorization_endpoint=server.authorization_endpoint,
                token_endpoint=server.token_endpoint,
                scope="read",
            ),
        )
        started = await start_authorization(session, runtime, account, admin)
        await session.commit()
        location = await anyio.to_thread.run_sync(
            lambda: authorize_as_browser(started.url, "soak", "soak-password-1")
        )
        await complete_authorization(
            session, runtime, dict(parse_qsl(urlsplit(location).query))
        )
        await update_account(
            session,
            runtime.keyring,
            runtime.settings,
            account,
            AuthAccountUpdate(active=True),
        )
        provider = await create_provider(
            session,
            runtime.settings,
            application.id,
            ProviderCreate(name="Protected", base_url=server.base_url),
        )
        method = await create_method(
            session,
            runtime.keyring,
            application.id,
            MethodCreate(
                name="Me",
                provider_id=provider.id,
                http_method="GET",
                url="/api/me",
                auth_account_id=account.id,
            ),
        )
        await session.commit()
        return application.id, method.id, client.client_id


async def soak(minutes: float, interval: float, lifetime: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        AuthorizationServer(access_token_lifetime=lifetime) as server,
    ):
        settings = Settings(
            base_url=BASE_URL,
            data_dir=Path(tmp),
            secret_keys=generate_key(),
            refresher_interval_seconds=5,
            refresh_ahead_seconds=20,
        )
        runtime = await open_runtime(settings)
        stop = anyio.Event()
        try:
            application_id, method_id, client_id = await authorized_method(
                runtime, server
            )
            calls = failures = waited = 0
            deadline = time.monotonic() + minutes * 60
            async with anyio.create_task_group() as background:
                background.start_soon(run_background, runtime, stop)
                while time.monotonic() < deadline:
                    result = await runtime.caller.call(
                        application_id, method_id, {}, CallContext(source="api")
                    )
                    calls += 1
                    failures += not result.success
                    waited += result.token_refreshed
                    if not result.success:
                        print(f"  call {calls} failed: {result.status} {result.error}")
                    await asyncio.sleep(interval)
                stop.set()
            requests = server.token_requests(client_id)
        finally:
            stop.set()
            await runtime.aclose()
    print(f"token lifetime {lifetime} s, {minutes:g} min of calls every {interval:g} s")
    print(
        f"calls {calls}, failed {failures} (baseline 0), waited for a refresh {waited}"
    )
    print(f"token endpoint: {requests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=3)
    parser.add_argument("--lifetime", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.interval, args.lifetime))


if __name__ == "__main__":
    main()
