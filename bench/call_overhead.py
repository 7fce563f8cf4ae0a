"""Call overhead: what Authwire's call path costs per call, beside the HTTP
client it is built on and beside Authlib's OAuth client.

    .venv/bin/python bench/call_overhead.py [--calls 5000] [--concurrency 64]
        [--rounds 3] [--postgres-url URL]

Three clients make the same authenticated GET of a loopback web service,
`--calls` times with `--concurrency` callers at once:

- (a) a bare `httpx2.AsyncClient` with a fixed `Authorization: Bearer` header,
  as fast as any client built on httpx2 can be;
- (b) Authlib's `AsyncOAuth2Client` holding a token that is far from expiry,
  what a team would write instead of Authwire;
- (c) `Caller.call` of an Authwire runtime: a GET method with a templated URL
  and a generic OAuth account with a valid token, so every call loads the
  method, asks the token keeper, renders, sends and commits its log entry.

The connection limits of (a) and (b) are those of Authwire's own client. The
web service (bench/_upstream.py) is a bare asyncio server in a process of its
own, bound to 127.0.0.1, so that its work shares neither the event loop nor
the GIL with the clients. Its CPU share is printed beside each figure: near
100% would mean it, not the client, set the pace. The machine's other cores,
if any, are shared with it and with PostgreSQL.

Beside calls per second, the table shows the CPU time this process spent per
call (its helper threads included, such as aiosqlite's; PostgreSQL's and the
upstream's not). On a machine that other work shares, calls per second move
with that work; CPU per call moves much less, so it tells what each client
costs even when the rates are noisy. The load average is printed first.

Each client is warmed up first (`WARM_UP_CALLS` untimed calls: connections
opened, SQL compiled). Then `--rounds` rounds run the three one after the
other, in an order that rotates each round, and the table shows the median
calls per second with the range. The ratios are of the medians. Authwire runs
on a fresh SQLite data directory and, when a server is given (--postgres-url
or AUTHWIRE_TEST_POSTGRES_URL), on a PostgreSQL database of its own, created,
migrated and dropped here; (a) and (b) run again beside it each time.

The goal: (c) at least 0.8 of (a), and ahead of (b). Slow figures are printed,
not failed. After the rounds, it checks (untimed) that every call succeeded,
that the upstream saw each one with the right token, and that Authwire wrote
exactly one successful log entry per call; it exits 1 only when one of those
checks fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from authwire.accounts.kinds import AccountKind
from authwire.accounts.schemas import AuthAccountCreate, AuthAccountUpdate
from authwire.accounts.service import create_account, update_account
from authwire.calls.executor import CallContext
from authwire.calls.methods import HttpMethod, MethodCreate, create_method
from authwire.calls.providers import ProviderCreate, create_provider
from authwire.db import migrate
from authwire.db.models import Application, WebServiceLog
from authwire.db.types import utcnow
from authwire.oauth.token_endpoint import TokenResponse
from authwire.runtime import Runtime, open_runtime
from authwire.secrets import Secret, generate_key
from authwire.settings import Settings
from authwire.tokens.store import store_new_grant

POSTGRES_ENV = "AUTHWIRE_TEST_POSTGRES_URL"
UPSTREAM_SCRIPT = Path(__file__).with_name("_upstream.py")
UPSTREAM_TOKEN_ENV = "BENCH_UPSTREAM_TOKEN"
UPSTREAM_START_SECONDS = 10.0
UPSTREAM_STOP_SECONDS = 5.0

WARM_UP_CALLS = 200
GOAL_VS_BARE = 0.8
PATH = "/tickets/1"  # what all three request; (c) renders it from a template
TOKEN_LIFETIME = timedelta(days=365)  # no refresh can happen during a run

# One call: None when it succeeded, else what went wrong (never a secret).
Call = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    call: Call


@dataclass
class Tally:
    """Outcomes of every call of one contender, warm-up included."""

    calls: int = 0
    failures: int = 0
    first_failure: str | None = None

    def record(self, failure: str | None) -> None:
        self.calls += 1
        if failure is not None:
            self.failures += 1
            if self.first_failure is None:
                self.first_failure = failure


@dataclass
class Measurement:
    rates: list[float] = field(default_factory=list)
    cpu_ms_per_call: list[float] = field(default_factory=list)
    upstream_cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


@dataclass
class Upstream:
    url: str
    stats_client: httpx2.AsyncClient  # for its counters, never timed

    async def stats(self) -> dict[str, Any]:
        response = await self.stats_client.get(f"{self.url}/_stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


@contextmanager
def upstream_process(token: str) -> Iterator[str]:
    """Start bench/_upstream.py and give its base URL; always stop it: its
    stdin is closed first (it exits on end of file), then it is terminated,
    then killed."""
    process = subprocess.Popen(
        [sys.executable, str(UPSTREAM_SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, UPSTREAM_TOKEN_ENV: token},
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=UPSTREAM_START_SECONDS):
                raise RuntimeError("The loopback upstream did not start in time.")
        line = process.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "port":
            raise RuntimeError(f"The loopback upstream said {line!r}, not its port.")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=UPSTREAM_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=UPSTREAM_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


def connection_limits(settings: Settings) -> httpx2.Limits:
    """The limits `open_runtime` gives Authwire's client, for (a) and (b)."""
    return httpx2.Limits(
        max_connections=settings.call_max_connections,
        max_keepalive_connections=settings.call_max_connections,
    )


def bare_contender(client: httpx2.AsyncClient, url: str) -> Contender:
    async def call() -> str | None:
        response = await client.get(url)
        return None if response.status_code == 200 else f"status {response.status_code}"

    return Contender("a", "httpx2.AsyncClient, fixed header", call)


def authlib_contender(client: AsyncOAuth2Client, url: str) -> Contender:
    async def call() -> str | None:
        response = await client.get(url)
        return None if response.status_code == 200 else f"status {response.status_code}"

    return Contender("b", "Authlib AsyncOAuth2Client", call)


def authwire_contender(
    runtime: Runtime, application_id: int, method_id: int
) -> Contender:
    parameters = {"ticket": 1}
    context = CallContext(source="api")

    async def call() -> str | None:
        result = await runtime.caller.call(
            application_id, method_id, parameters, context
        )
        if result.success and result.status == 200:
            return None
        return result.error or f"status {result.status}"

    return Contender("c", "Authwire Caller.call, logged", call)


async def seed_method(
    runtime: Runtime, upstream_url: str, token: str
) -> tuple[int, int]:
    """An application with a generic OAuth account holding a valid token (as
    a completed Generate leaves it), made active, a provider at the upstream,
    and a GET method using the account. Returns (application id, method id)."""
    settings, keyring = runtime.settings, runtime.keyring
    async with runtime.sessions() as session:
        application = Application(name="Call overhead bench", description="")
        session.add(application)
        await session.flush()
        account = await create_account(
            session,
            keyring,
            settings,
            application.id,
            AuthAccountCreate(
                name="Loopback OAuth",
                kind=AccountKind.OAUTH2_GENERIC,
                client_id="bench-client",
                client_secret="bench-client-secret",
                # Never contacted: the token stays valid for the whole run.
                authorization_endpoint="https://idp.test/oauth/authorize",
                token_endpoint="https://idp.test/oauth/token",
                scope="tickets",
            ),
        )
        grant = TokenResponse(
            access_token=Secret(token),
            refresh_token=Secret("bench-refresh-" + secrets.token_hex(8)),
            token_type="Bearer",
            expires_at=utcnow() + TOKEN_LIFETIME,
            expires_in_given=True,
            scope="tickets",
        )
        await store_new_grant(session, account, grant, keyring, authorized_by_id=None)
        await update_account(
            session, keyring, settings, account, AuthAccountUpdate(active=True)
        )
        provider = await create_provider(
            session,
            settings,
            application.id,
            ProviderCreate(name="Loopback", base_url=upstream_url),
        )
        method = await create_method(
            session,
            keyring,
            application.id,
            MethodCreate(
                name="Read ticket",
                provider_id=provider.id,
                http_method=HttpMethod.GET,
                url="/tickets/{{ ticket }}",
                auth_account_id=account.id,
            ),
        )
        await session.commit()
        return application.id, method.id


async def log_entry_counts(runtime: Runtime, method_id: int) -> tuple[int, int]:
    """(entries, successful entries) of the method."""
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(WebServiceLog.success.is_(True)),
                ).where(WebServiceLog.method_id == method_id)
            )
        ).one()
    return int(row[0]), int(row[1])


async def run_calls(
    contender: Contender, tally: Tally, *, calls: int, concurrency: int
) -> float:
    """`calls` calls by `concurrency` workers; returns calls per second."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                failure = await contender.call()
            except Exception as exc:  # a failed call is counted, not fatal
                failure = f"{type(exc).__name__}: {exc}"
            tally.record(failure)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, calls)):
            group.create_task(worker())
    return calls / (time.perf_counter() - started)


async def measure_round(
    contender: Contender,
    tally: Tally,
    upstream: Upstream,
    measurement: Measurement,
    *,
    calls: int,
    concurrency: int,
) -> None:
    before = await upstream.stats()
    started = time.perf_counter()
    cpu_started = time.process_time()
    rate = await run_calls(contender, tally, calls=calls, concurrency=concurrency)
    cpu = time.process_time() - cpu_started
    wall = time.perf_counter() - started
    after = await upstream.stats()
    measurement.rates.append(rate)
    measurement.cpu_ms_per_call.append(cpu / calls * 1000)
    measurement.upstream_cpu.append(
        (after["cpu_seconds"] - before["cpu_seconds"]) / wall
    )


@dataclass
class BackendResult:
    backend: str
    measurements: dict[str, Measurement]
    labels: dict[str, str]
    problems: list[str]
    notes: list[str]


async def measure_backend(
    backend: str,
    runtime: Runtime,
    upstream: Upstream,
    token: str,
    *,
    calls: int,
    concurrency: int,
    rounds: int,
) -> BackendResult:
    """The three clients against one Authwire runtime, warmed up, then timed
    round by round, then checked."""
    application_id, method_id = await seed_method(runtime, upstream.url, token)
    url = upstream.url + PATH
    limits = connection_limits(runtime.settings)
    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            limits=limits,
            follow_redirects=False,
        ) as bare,
        AsyncOAuth2Client(
            token={
                "access_token": token,
                "token_type": "Bearer",
                "expires_at": int(time.time() + TOKEN_LIFETIME.total_seconds()),
            },
            limits=limits,
            follow_redirects=False,
        ) as oauth,
    ):
        contenders = [
            bare_contender(bare, url),
            authlib_contender(oauth, url),
            authwire_contender(runtime, application_id, method_id),
        ]
        tallies = {c.key: Tally() for c in contenders}
        ok_before = (await upstream.stats())["ok"]
        for contender in contenders:
            await run_calls(
                contender,
                tallies[contender.key],
                calls=WARM_UP_CALLS,
                concurrency=concurrency,
            )
        measurements = await run_rounds(
            backend,
            contenders,
            tallies,
            upstream,
            calls=calls,
            concurrency=concurrency,
            rounds=rounds,
        )

    problems, notes = await check_calls(
        runtime, upstream, method_id, tallies, ok_before=ok_before
    )
    return BackendResult(
        backend=backend,
        measurements=measurements,
        labels={c.key: c.label for c in contenders},
        problems=problems,
        notes=notes,
    )


async def run_rounds(
    backend: str,
    contenders: list[Contender],
    tallies: dict[str, Tally],
    upstream: Upstream,
    *,
    calls: int,
    concurrency: int,
    rounds: int,
) -> dict[str, Measurement]:
    """Each round times every contender once; who goes first rotates, so that
    none always runs right after the same other one."""
    measurements = {c.key: Measurement() for c in contenders}
    for round_number in range(rounds):
        shift = round_number % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            await measure_round(
                contender,
                tallies[contender.key],
                upstream,
                measurements[contender.key],
                calls=calls,
                concurrency=concurrency,
            )
        line = "  ".join(
            f"({c.key}) {measurements[c.key].rates[-1]:,.0f}/s" for c in contenders
        )
        print(f"  {backend} round {round_number + 1}/{rounds}: {line}", flush=True)
    return measurements


async def check_calls(
    runtime: Runtime,
    upstream: Upstream,
    method_id: int,
    tallies: dict[str, Tally],
    *,
    ok_before: int,
) -> tuple[list[str], list[str]]:
    """(problems, notes): every call succeeded, the upstream saw each one with
    the right token, and (c) wrote one successful log entry per call."""
    problems = []
    for key, tally in tallies.items():
        if tally.failures:
            problems.append(
                f"({key}) {tally.failures} of {tally.calls} calls failed, "
                f"first: {tally.first_failure}"
            )
    made = sum(tally.calls for tally in tallies.values())
    succeeded = made - sum(tally.failures for tally in tallies.values())
    served = (await upstream.stats())["ok"] - ok_before
    if served != succeeded:
        problems.append(
            f"the upstream served {served} authenticated GETs for {succeeded} "
            "successful calls"
        )
    entries, successful = await log_entry_counts(runtime, method_id)
    expected = tallies["c"].calls
    if entries != expected or successful != expected:
        problems.append(
            f"(c) made {expected} calls and wrote {entries} log entries, "
            f"{successful} of them successful"
        )
    notes = [
        f"(c) made {expected:,} calls and wrote {entries:,} log entries, "
        f"{successful:,} successful; the upstream served {served:,} "
        f"authenticated GETs for {made:,} calls"
    ]
    return problems, notes


@asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A database of the benchmark's own on `server_url`, migrated, and
    dropped afterwards: nobody else's database is written to."""
    name = f"authwire_bench_{uuid.uuid4().hex[:12]}"
    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(
        libpq, autocommit=True, connect_timeout=10
    ) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(database=name).render_as_string(False)
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(
            libpq, autocommit=True, connect_timeout=10
        ) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def authwire_runtime(
    data_dir: Path, database_url: str | None
) -> AsyncIterator[Runtime]:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_keys=generate_key(),
        auto_migrate=database_url is None,
    )
    runtime = await open_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.aclose()


def print_table(results: list[BackendResult]) -> None:
    widths = [10, 36, 7, 13, 11, 5, 5, 8]
    header = [
        "backend",
        "client",
        "calls/s",
        "range",
        "CPU ms/call",
        "c/a",
        "c/b",
        "upstream",
    ]
    print("\n" + format_row(header, widths))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for result in results:
        m = result.measurements
        c_a = m["c"].median / m["a"].median
        c_b = m["c"].median / m["b"].median
        for key in ("a", "b", "c"):
            rates = m[key].rates
            cells = [
                result.backend,
                f"({key}) {result.labels[key]}",
                f"{m[key].median:,.0f}",
                f"{min(rates):,.0f}-{max(rates):,.0f}",
                f"{statistics.median(m[key].cpu_ms_per_call):.2f}",
                f"{c_a:.2f}" if key == "c" else "",
                f"{c_b:.2f}" if key == "c" else "",
                f"{statistics.median(m[key].upstream_cpu):.0%} CPU",
            ]
            print(format_row(cells, widths))
        by_cpu = statistics.median(m["a"].cpu_ms_per_call) / statistics.median(
            m["c"].cpu_ms_per_call
        )
        print(
            f"{'':<10}  goal c/a >= {GOAL_VS_BARE}: "
            f"{'met' if c_a >= GOAL_VS_BARE else 'NOT met'} ({c_a:.2f}; "
            f"{by_cpu:.2f} by CPU per call); c ahead of b: "
            f"{'met' if c_b > 1 else 'NOT met'} ({c_b:.2f})"
        )
    print()
    for result in results:
        for note in result.notes:
            print(f"{result.backend}: {note}")
        for problem in result.problems:
            print(f"{result.backend}: FAILED: {problem}")


def format_row(cells: list[str], widths: list[int]) -> str:
    """The first two columns to the left, the figures to the right."""
    return "  ".join(
        cell.ljust(width) if index < 2 else cell.rjust(width)
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV),
        help=f"a PostgreSQL server to also run on (default: ${POSTGRES_ENV})",
    )
    arguments = parser.parse_args()
    for name in ("calls", "concurrency", "rounds"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return arguments


async def run_backends(
    arguments: argparse.Namespace, upstream: Upstream, token: str
) -> list[BackendResult]:
    """SQLite always; PostgreSQL when a server is given."""
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if arguments.postgres_url:
        backends.append(("postgresql", arguments.postgres_url))
    results = []
    for backend, server_url in backends:
        async with AsyncExitStack() as stack:
            data_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="authwire-call-bench-")
            )
            database_url = None
            if server_url is not None:
                database_url = await stack.enter_async_context(
                    postgres_database(server_url)
                )
            runtime = await stack.enter_async_context(
                authwire_runtime(Path(data_dir), database_url)
            )
            result = await measure_backend(
                backend,
                runtime,
                upstream,
                token,
                calls=arguments.calls,
                concurrency=arguments.concurrency,
                rounds=arguments.rounds,
            )
            results.append(result)
    return results


async def main() -> int:
    arguments = parse_arguments()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Python {platform.python_version()} on {platform.platform()}, "
        f"{os.cpu_count()} CPUs, load average {load}; {arguments.calls:,} GETs "
        f"at concurrency {arguments.concurrency}, {arguments.rounds} rounds, "
        f"{WARM_UP_CALLS} warm-up calls per client",
        flush=True,
    )
    # A fresh fake token per run; the upstream accepts only this one.
    token = "bench-" + secrets.token_urlsafe(24)
    with upstream_process(token) as url:
        async with httpx2.AsyncClient(timeout=10) as stats_client:
            upstream = Upstream(url=url, stats_client=stats_client)
            results = await run_backends(arguments, upstream, token)
    print_table(results)
    return 1 if any(result.problems for result in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
