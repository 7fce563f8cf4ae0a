"""Log query: how long one filtered page of web service logs takes to list, at
1,000,000 entries, beside one hand-written SQL query for the same page.

    .venv/bin/python bench/log_query.py [--postgres-url URL] [--entries N]
        [--runs 30] [--no-plans]

Each backend gets a database of its own, migrated with
`authwire.db.migrate.upgrade`: SQLite in a temporary folder, and PostgreSQL
(created here and dropped at the end) when a server is given with
--postgres-url or AUTHWIRE_TEST_POSTGRES_URL. One application's entries are
bulk-loaded as plain rows: eight methods and four accounts in turn, one call
in ten failed, one entry every two seconds up to now. SQLite is left without
ANALYZE statistics, as an installation runs it; PostgreSQL is analysed once,
as autovacuum would.

The query: the failed calls of one method (one entry in 80), newest first,
50 a page. Page 1, and page 100, whose cursor comes from walking pages 1 to 99
once with `list_entries` (not timed). Each is timed `--runs` times with
`list_entries` (SQL built by SQLAlchemy, rows turned into `LogEntryOut`) and
with one hand-written SELECT of the same columns on the same index, run on
the session's connection as `list_entries` runs its own; the two alternate
which goes first. A few untimed runs come first, so that statement caches
and the page cache are warm for both. Both read 51 rows: the page and the
one row that tells whether another page follows.

The goal: the median of `list_entries` within 1.5x of the hand-written query
and under 20 ms. Slow figures are printed, not failed; the script exits 1 only
when `list_entries` and the hand-written query return different entries.
With plans on (the default), it also prints the query plan of `list_entries`
for each filter, first page and a deep one, so that a sort or a table scan is
seen at this size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authwire.calls.logs import (
    LogFilter,
    LogSource,
    decode_cursor,
    list_entries,
)
from authwire.db import migrate
from authwire.db.engine import create_engine, create_sessionmaker, sync_url
from authwire.db.models import (
    Application,
    AuthAccount,
    WebServiceLog,
    WebServiceMethod,
    WebServiceProvider,
)

PAGE_SIZE = 50
DEEP_PAGE = 100
METHODS = 8
ACCOUNTS = 4
WARMUP_RUNS = 3
GOAL_RATIO = 1.5
GOAL_MS = 20.0

# What an entry shows: every column but the insert sentinel, which only
# orders the rows of a batch insert and stays NULL in these bulk-loaded rows.
COLUMNS = [
    column.name
    for column in WebServiceLog.__table__.columns
    if column.name != "insert_sentinel"
]
# Built from the model's column names, never from input.
RAW_PAGE = (
    f"SELECT {', '.join(COLUMNS)} FROM web_service_logs"  # noqa: S608
    " WHERE application_id = :application_id AND method_id = :method_id"
    " AND success = :success{before}"
    " ORDER BY id DESC LIMIT :rows"
)


@dataclass(frozen=True)
class Seed:
    application_id: int
    method_ids: list[int]
    account_ids: list[int]


@dataclass(frozen=True)
class Row:
    backend: str
    page: int
    library_ms: float
    raw_ms: float

    @property
    def ratio(self) -> float:
        return self.library_ms / self.raw_ms

    @property
    def meets_goal(self) -> bool:
        return self.ratio <= GOAL_RATIO and self.library_ms < GOAL_MS


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def create_parents(url: str) -> Seed:
    """The application, a provider, its methods and the accounts they use."""
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            application_id = conn.execute(
                insert(Application)
                .values(name="Bench", description="")
                .returning(Application.id)
            ).scalar_one()
            provider_id = conn.execute(
                insert(WebServiceProvider)
                .values(
                    application_id=application_id,
                    name="Vendor",
                    description="",
                    base_url="https://vendor.test/api",
                    active=True,
                )
                .returning(WebServiceProvider.id)
            ).scalar_one()
            account_ids = [
                conn.execute(
                    insert(AuthAccount)
                    .values(
                        application_id=application_id,
                        name=f"account {n}",
                        description="",
                        kind="basic",
                        status="authorized",
                    )
                    .returning(AuthAccount.id)
                ).scalar_one()
                for n in range(ACCOUNTS)
            ]
            method_ids = [
                conn.execute(
                    insert(WebServiceMethod)
                    .values(
                        application_id=application_id,
                        provider_id=provider_id,
                        auth_account_id=account_ids[n % ACCOUNTS],
                        name=f"method {n}",
                        description="",
                        http_method="GET" if n % 2 else "POST",
                        url=f"/items/{n}",
                    )
                    .returning(WebServiceMethod.id)
                ).scalar_one()
                for n in range(METHODS)
            ]
    finally:
        engine.dispose()
    return Seed(application_id, method_ids, account_ids)


def entries(seed: Seed, count: int) -> Iterator[dict[str, Any]]:
    """`count` plain entries, oldest first, one every two seconds up to now."""
    start = datetime.now(UTC) - timedelta(seconds=2 * count)
    request_headers = json.dumps({"Accept": "application/json"})
    response_headers = json.dumps({"Content-Type": "application/json"})
    for n in range(count):
        method = n % METHODS
        # Every tenth call fails, in a pattern that gives each method its
        # share of failures (10 and 8 share factors, so plain n % 10 would
        # give all of them to four methods).
        failed = (n // METHODS) % 10 == 0
        status = 503 if failed else 200
        yield {
            "id": n + 1,
            "created_at": start + timedelta(seconds=2 * n),
            "application_id": seed.application_id,
            "source": (LogSource.WORKFLOW if n % 3 else LogSource.API).value,
            "method_id": seed.method_ids[method],
            "method_name": f"method {method}",
            "account_id": seed.account_ids[method % ACCOUNTS],
            "account_name": f"account {method % ACCOUNTS}",
            "workflow_id": n % 20 + 1,
            "run_id": n // 5 + 1,
            "step_key": "lookup",
            "request_method": "GET" if method % 2 else "POST",
            "request_url": f"https://vendor.test/api/items/{method}?page={n % 7}",
            "request_headers": request_headers,
            "request_body": None if method % 2 else '{"query": "printer"}',
            "request_body_size": 0 if method % 2 else 20,
            "response_status": status,
            "response_headers": response_headers,
            "response_body": '{"error": "unavailable"}'
            if failed
            else '{"items": [{"id": 1, "name": "printer"}]}',
            "response_body_size": 24 if failed else 41,
            "response_body_truncated": False,
            "duration_ms": 40.0 + n % 200,
            "attempts": 3 if failed else 1,
            "success": not failed,
            "error": "HTTP 503 from vendor.test" if failed else None,
            "token_refreshed": n % 997 == 0,
        }


def load_sqlite(path: Path, seed: Seed, count: int) -> None:
    """Plain rows through sqlite3, in the text form SQLAlchemy gives datetimes
    on SQLite (checked by the comparison with `list_entries`)."""
    connection = sqlite3.connect(path)
    try:
        placeholders = ", ".join("?" for _ in COLUMNS)
        statement = (
            f"INSERT INTO web_service_logs ({', '.join(COLUMNS)}) "  # noqa: S608
            f"VALUES ({placeholders})"
        )

        def rows() -> Iterator[tuple[Any, ...]]:
            for entry in entries(seed, count):
                created = entry["created_at"].replace(tzinfo=None)
                entry["created_at"] = created.strftime("%Y-%m-%d %H:%M:%S.%f")
                yield tuple(entry[name] for name in COLUMNS)

        with connection:
            connection.executemany(statement, rows())
    finally:
        connection.close()


def load_postgres(url: str, seed: Seed, count: int) -> None:
    with psycopg.connect(_libpq(url)) as connection:
        with connection.cursor() as cursor:
            copy_sql = f"COPY web_service_logs ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for entry in entries(seed, count):
                    copy.write_row([entry[name] for name in COLUMNS])
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('web_service_logs', 'id'), "
                "(SELECT max(id) FROM web_service_logs))"
            )
        connection.commit()
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE web_service_logs")


class StatementLog:
    """The SQL statements an engine runs, with their parameters, to explain."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.taken: list[tuple[str, Any]] = []
        engine = sessions.kw["bind"].sync_engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if not sql.startswith("EXPLAIN"):
            self.taken.append((sql, params))

    def clear(self) -> None:
        self.taken.clear()


async def plan_of(
    sessions: async_sessionmaker[AsyncSession],
    backend: str,
    statement: tuple[str, Any],
) -> str:
    sql, params = statement
    prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN (COSTS OFF) "
    async with sessions() as session:
        connection = await session.connection()
        result = await connection.exec_driver_sql(prefix + sql, params)
        rows = result.all()
    if backend == "sqlite":
        return "; ".join(str(row[-1]) for row in rows)
    return "; ".join(str(row[0]).strip() for row in rows)


async def print_plans(
    sessions: async_sessionmaker[AsyncSession],
    statements: StatementLog,
    backend: str,
    seed: Seed,
    count: int,
) -> None:
    method, account = seed.method_ids[2], seed.account_ids[1]
    recently = datetime.now(UTC) - timedelta(hours=1)
    filters = {
        "none": LogFilter(),
        "success=false": LogFilter(success=False),
        "method": LogFilter(method_id=method),
        "method+success": LogFilter(method_id=method, success=False),
        "account": LogFilter(account_id=account),
        "account+success": LogFilter(account_id=account, success=False),
        "run": LogFilter(run_id=count // 10),
        "workflow": LogFilter(workflow_id=3),
        "source": LogFilter(source=LogSource.API),
        "since (last hour)": LogFilter(since=recently),
    }
    print(f"\nquery plans of list_entries on {backend} ({count:,} entries)")
    for name, log_filter in filters.items():
        for page, before_id in (("first", None), ("deep", count // 2)):
            statements.clear()
            async with sessions() as session:
                await list_entries(
                    session,
                    seed.application_id,
                    log_filter,
                    limit=PAGE_SIZE,
                    before_id=before_id,
                )
            plan = await plan_of(sessions, backend, statements.taken[-1])
            print(f"  {name:<18} {page:<5} {plan}")


async def deep_page_before_id(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, log_filter: LogFilter
) -> int:
    """Where page 100 starts, found by walking pages 1 to 99 as a client would,
    each with the cursor of the page before."""
    cursor: str | None = None
    async with sessions() as session:
        for _ in range(DEEP_PAGE - 1):
            page = await list_entries(
                session,
                seed.application_id,
                log_filter,
                limit=PAGE_SIZE,
                before_id=decode_cursor(cursor) if cursor else None,
            )
            cursor = page.next_cursor
            if cursor is None:
                break
    if cursor is None:
        raise SystemExit(f"fewer than {DEEP_PAGE} pages; give more --entries")
    return decode_cursor(cursor)


async def time_page(
    sessions: async_sessionmaker[AsyncSession],
    statements: StatementLog,
    backend: str,
    seed: Seed,
    log_filter: LogFilter,
    page: int,
    before_id: int | None,
    runs: int,
) -> Row:
    raw_sql = text(
        RAW_PAGE.format(before="" if before_id is None else " AND id < :before")
    )
    parameters: dict[str, Any] = {
        "application_id": seed.application_id,
        "method_id": log_filter.method_id,
        "success": log_filter.success,
        "rows": PAGE_SIZE + 1,
    }
    if before_id is not None:
        parameters["before"] = before_id

    async def library(session: AsyncSession) -> list[int]:
        listed = await list_entries(
            session,
            seed.application_id,
            log_filter,
            limit=PAGE_SIZE,
            before_id=before_id,
        )
        return [entry.id for entry in listed.items]

    async def raw(session: AsyncSession) -> list[int]:
        connection = await session.connection()
        rows = (await connection.execute(raw_sql, parameters)).all()
        return [row.id for row in rows[:PAGE_SIZE]]

    timings: dict[str, list[float]] = {"library": [], "raw": []}
    async with sessions() as session:
        for run in range(WARMUP_RUNS + runs):
            pair = [("library", library), ("raw", raw)]
            if run % 2:
                pair.reverse()
            ids: dict[str, list[int]] = {}
            for name, call in pair:
                started = time.perf_counter()
                ids[name] = await call(session)
                elapsed = (time.perf_counter() - started) * 1000
                if run >= WARMUP_RUNS:
                    timings[name].append(elapsed)
            if ids["library"] != ids["raw"] or len(ids["raw"]) != PAGE_SIZE:
                print(
                    f"{backend} page {page}: list_entries returned "
                    f"{ids['library'][:3]}..., the SQL {ids['raw'][:3]}...",
                    file=sys.stderr,
                )
                raise SystemExit(1)

        # Both queries' plans at this size, to show that they read one index.
        statements.clear()
        await library(session)
        await raw(session)
        for name, statement in zip(
            ("list_entries", "hand-written"), statements.taken, strict=True
        ):
            print(
                f"{backend} page {page}, {name} plan: "
                + await plan_of(sessions, backend, statement)
            )
    return Row(
        backend,
        page,
        statistics.median(timings["library"]),
        statistics.median(timings["raw"]),
    )


async def measure(
    backend: str, url: str, seed: Seed, count: int, runs: int, plans: bool
) -> list[Row]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    statements = StatementLog(sessions)
    try:
        log_filter = LogFilter(method_id=seed.method_ids[3], success=False)
        deep = await deep_page_before_id(sessions, seed, log_filter)
        rows = [
            await time_page(
                sessions, statements, backend, seed, log_filter, page, before_id, runs
            )
            for page, before_id in ((1, None), (DEEP_PAGE, deep))
        ]
        if plans:
            await print_plans(sessions, statements, backend, seed, count)
        return rows
    finally:
        await engine.dispose()


def prepare(backend: str, url: str, count: int, sqlite_path: Path | None) -> Seed:
    started = time.perf_counter()
    migrate.upgrade(url)
    seed = create_parents(url)
    if sqlite_path is not None:
        load_sqlite(sqlite_path, seed, count)
    else:
        load_postgres(url, seed, count)
    print(
        f"{backend}: {count:,} entries loaded in {time.perf_counter() - started:.0f} s"
    )
    return seed


def print_table(rows: list[Row]) -> None:
    print(
        f"\nmedian of each; goal: list_entries within {GOAL_RATIO}x of the "
        f"hand-written query and under {GOAL_MS:.0f} ms"
    )
    header = f"{'backend':<11}{'page':>5}{'list_entries ms':>17}{'raw SQL ms':>12}"
    print(header + f"{'ratio':>8}  goal")
    for row in rows:
        print(
            f"{row.backend:<11}{row.page:>5}{row.library_ms:>17.2f}"
            f"{row.raw_ms:>12.2f}{row.ratio:>7.2f}x  "
            + ("met" if row.meets_goal else "MISSED")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AUTHWIRE_TEST_POSTGRES_URL"),
        help="a PostgreSQL server to create (and drop) a database on",
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--no-plans", dest="plans", action="store_false", help="skip the plan table"
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs; {args.entries:,} entries, {args.runs} runs each"
    )

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="authwire-bench-") as folder:
        path = Path(folder) / "logs.db"
        url = f"sqlite:///{path}"
        seed = prepare("sqlite", url, args.entries, path)
        rows += asyncio.run(
            measure("sqlite", url, seed, args.entries, args.runs, args.plans)
        )

    if args.postgres_url:
        name = f"authwire_bench_{uuid.uuid4().hex[:12]}"
        server = _libpq(args.postgres_url)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(args.postgres_url).set(database=name).render_as_string(False)
        try:
            with psycopg.connect(_libpq(url)) as connection:
                version = connection.execute("SHOW server_version").fetchone()
            print(f"PostgreSQL {version[0] if version else '?'}")
            seed = prepare("postgresql", url, args.entries, None)
            rows += asyncio.run(
                measure("postgresql", url, seed, args.entries, args.runs, args.plans)
            )
        finally:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        print("\nno PostgreSQL server given (--postgres-url), so SQLite only")

    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
