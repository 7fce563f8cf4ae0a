"""Refresh storm: how many token requests, and how long until the last caller
has its token, when N callers at once find one account's access token expired.

    .venv/bin/python bench/refresh_storm.py [--postgres-url URL] [--delay 0.05]
        [--sizes 1,100,1000,10000] [--repeat 3] [--cold] [--profile-dir DIR]

For each N, a fresh account whose token has expired, a local token endpoint
(127.0.0.1) that answers after a fixed delay, and N callers of
`TokenKeeper.access_token`, all started at one wall-clock instant:

- SQLite, one process (the embedded installation);
- PostgreSQL, one process and four processes (N shared out among them),
  when a server is given (--postgres-url, or AUTHWIRE_TEST_POSTGRES_URL).

The callers always run in worker processes (`tests.tokens.storm_worker`), the
same ones the test of the keeper across processes uses, so the token endpoint
never competes with them for this process's event loop. Time runs from the
common start instant to the last caller of all processes. Before the start,
each worker refreshes an account of its own once (unless --cold), so that
first-use costs (lazy imports, SQL compilation) are not counted: a storm hits
a server that has been running. The GC column is the longest time any one
worker spent in the garbage collector during the storm, a part of its time.
Each row is the median of --repeat storms, each on a fresh account, with the
range in the notes: the figures of one storm move with the machine's load.

Baselines: the ideal is one refresh and no waiting for anything else, which
takes the token endpoint's fixed delay; the floor is what asyncio itself
costs for the same callers, when the shared work is only that delay
(bench/_storm_floor.py, one fresh process per run, N / processes callers).
At 10,000 callers the floor alone is well over twice the ideal: starting ten
thousand tasks and waking them again takes longer than the refresh. Each row
is printed beside both, with its ratios. The goal: exactly one request at
every N, and the last caller served within 2x the ideal at N = 10,000. Slow
figures are reported, not failed; the script exits 1 only when a run breaks
(more than one request, an error, callers with different tokens), which it
prints loudly.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script from anywhere: the storm harness lives in the test tree.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url
from tests.tokens.storm import (
    LATE_START_ATTEMPTS,
    DelayedTokenEndpoint,
    Storm,
    StormError,
    running_token_endpoint,
    split,
    storm_on_fresh_account,
)

from authwire.db import migrate
from authwire.runtime import Runtime, open_runtime
from authwire.secrets import generate_key
from authwire.settings import Settings

POSTGRES_ENV = "AUTHWIRE_TEST_POSTGRES_URL"

# Seconds between launching workers and their common start: enough for the
# imports, the schema check and a first connection, for all of them at once.
# (A storm in which a worker was late anyway is run again with more.)
START_IN = {1: 2.5, 4: 4.0}


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    process_counts: tuple[int, ...]


@dataclass(frozen=True)
class Row:
    backend: str
    processes: int
    callers: int
    requests: int
    last_served_ms: float | None
    gc_ms: float | None
    ideal_ms: float
    floor_ms: float
    problems: list[str]
    notes: list[str]

    @property
    def broken(self) -> bool:
        return bool(self.problems)

    def cells(self) -> list[str]:
        def ratio(baseline: float) -> str:
            if self.last_served_ms is None:
                return "-"
            return f"{self.last_served_ms / baseline:.1f}x"

        return [
            self.backend,
            str(self.processes),
            f"{self.callers:,}",
            str(self.requests),
            "-" if self.last_served_ms is None else f"{self.last_served_ms:.0f}",
            f"{self.ideal_ms:.0f}",
            ratio(self.ideal_ms),
            f"{self.floor_ms:.0f}",
            ratio(self.floor_ms),
            "-" if self.gc_ms is None else f"{self.gc_ms:.0f}",
            "; ".join(["BROKEN: " + p for p in self.problems] + self.notes),
        ]


HEADER = [
    "backend",
    "processes",
    "N",
    "token requests",
    "last caller (ms)",
    "ideal (ms)",
    "vs ideal",
    "floor (ms)",
    "vs floor",
    "GC (ms)",
    "notes",
]
WIDTHS = [10, 9, 7, 14, 16, 10, 8, 10, 8, 7, 0]
FLOOR_SCRIPT = Path(__file__).with_name("_storm_floor.py")


def asyncio_floor_ms(callers: int, delay: float, repeat: int) -> float:
    """The median of `repeat` runs of bench/_storm_floor.py: `callers`
    callers sharing one task that only sleeps `delay`, in a fresh process."""
    runs = []
    for _ in range(repeat):
        result = subprocess.run(
            [sys.executable, str(FLOOR_SCRIPT), str(callers), str(delay)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(float(result.stdout))
    return statistics.median(runs)


def format_line(cells: list[str]) -> str:
    return "  ".join(
        cell.rjust(width) if width else cell
        for cell, width in zip(cells, WIDTHS, strict=True)
    ).rstrip()


def judge(storm: Storm, endpoint: DelayedTokenEndpoint) -> list[str]:
    """What went wrong, if anything: the figures of a broken run mean little."""
    problems = []
    requests = sum(endpoint.requests.values())
    if requests != 1:
        problems.append(f"{requests} token requests, not 1")
    if len(storm.tokens) > 1:
        problems.append(f"callers got {len(storm.tokens)} different tokens")
    if storm.errors:
        problems.append(f"errors {storm.errors}")
    served = sum(storm.tokens.values())
    if served + sum(storm.errors.values()) != storm.callers:
        problems.append(f"{storm.callers - served} callers did not answer")
    return problems


@asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A database of the benchmark's own on `server_url`, migrated, dropped
    afterwards: the benchmark never writes to anyone else's."""
    name = f"authwire_storm_bench_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql")
    libpq = admin_url.render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(
        libpq, autocommit=True, connect_timeout=10
    ) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(False)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(
            libpq, autocommit=True, connect_timeout=10
        ) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_backend(
    backend: Backend,
    endpoint: DelayedTokenEndpoint,
    *,
    sizes: list[int],
    data_dir: Path,
    repeat: int,
    warm_up: bool,
    profile_dir: Path | None,
) -> list[Row]:
    """Every storm of one database, a fresh expired account for each."""
    settings = Settings(
        data_dir=data_dir,
        database_url=backend.database_url,
        secret_keys=generate_key(),
        auto_migrate=backend.name == "sqlite",
    )
    runtime = await open_runtime(settings)
    rows = []
    try:
        for processes in backend.process_counts:
            for size in sizes:
                if size < processes:
                    # Idle workers would only add their shutdown to the timing.
                    print(
                        f"{backend.name:>10}  {processes:>9}  {size:>7,}  "
                        "(skipped: fewer callers than processes)",
                        flush=True,
                    )
                    continue
                profile = None
                if profile_dir is not None:
                    profile = profile_dir / f"{backend.name}-{processes}p-{size}"
                    profile.mkdir(parents=True, exist_ok=True)
                row = await measure(
                    runtime,
                    endpoint,
                    backend.name,
                    processes=processes,
                    size=size,
                    repeat=repeat,
                    warm_up=warm_up,
                    profile_dir=profile,
                )
                print(format_line(row.cells()), flush=True)
                rows.append(row)
    finally:
        await runtime.aclose()
    return rows


@dataclass(frozen=True)
class Outcome:
    """One storm as the benchmark judges it."""

    requests: int
    last_served_ms: float | None
    gc_ms: float | None
    problems: list[str]


async def storm_once(
    runtime: Runtime,
    endpoint: DelayedTokenEndpoint,
    *,
    processes: int,
    size: int,
    warm_up: bool,
    profile_dir: Path | None,
) -> Outcome:
    """One storm on a fresh expired account, judged."""
    start_in = START_IN.get(processes, 4.0)
    try:
        _, storm = await storm_on_fresh_account(
            runtime,
            endpoint,
            callers=split(size, processes),
            start_in=start_in,
            serve_within=60.0,
            warm_up=warm_up,
            profile_dir=profile_dir,
        )
    except StormError as exc:
        problem = f"the storm did not complete: {exc}"
        return Outcome(sum(endpoint.requests.values()), None, None, [problem])

    problems = judge(storm, endpoint)
    if storm.latest_start > 0:
        problems.append(
            f"a worker was ready {storm.latest_start * 1000:.0f} ms after the "
            f"start instant, even after {LATE_START_ATTEMPTS} attempts"
        )
    return Outcome(
        requests=sum(endpoint.requests.values()),
        last_served_ms=storm.last_served * 1000,
        gc_ms=max(report.gc_pause for report in storm.reports) * 1000,
        problems=problems,
    )


async def measure(
    runtime: Runtime,
    endpoint: DelayedTokenEndpoint,
    backend: str,
    *,
    processes: int,
    size: int,
    repeat: int,
    warm_up: bool,
    profile_dir: Path | None,
) -> Row:
    """`repeat` storms of `size` callers over `processes` workers, summed up
    by their medians: other work on the machine makes single runs jumpy."""
    outcomes = [
        await storm_once(
            runtime,
            endpoint,
            processes=processes,
            size=size,
            warm_up=warm_up,
            profile_dir=profile_dir,
        )
        for _ in range(repeat)
    ]
    times = [o.last_served_ms for o in outcomes if o.last_served_ms is not None]
    pauses = [o.gc_ms for o in outcomes if o.gc_ms is not None]
    notes = []
    if len(times) > 1:
        notes.append(f"{min(times):.0f}-{max(times):.0f} ms over {len(times)} runs")
    return Row(
        backend=backend,
        processes=processes,
        callers=size,
        requests=max(o.requests for o in outcomes),
        last_served_ms=statistics.median(times) if times else None,
        gc_ms=statistics.median(pauses) if pauses else None,
        ideal_ms=endpoint.delay * 1000,
        floor_ms=asyncio_floor_ms(-(-size // processes), endpoint.delay, repeat),
        problems=sorted({p for o in outcomes for p in o.problems}),
        notes=notes,
    )


async def bench(args: argparse.Namespace) -> list[Row]:
    sizes = [int(size) for size in args.sizes.split(",")]
    postgres_url: str | None = args.postgres_url or os.environ.get(POSTGRES_ENV)
    print(
        f"Refresh storm: token endpoint delay {args.delay * 1000:.0f} ms; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; workers "
        f"{'cold (no warm-up)' if args.cold else 'warmed up by one refresh'}; "
        f"medians of {args.repeat} storms.\n"
        "Baselines: the ideal is one refresh and nothing else = the endpoint's "
        "delay;\nthe floor is what asyncio alone costs: the callers of one "
        "process (N / processes)\nsharing one task that only sleeps that delay "
        "(bench/_storm_floor.py).\n"
        "N is the number of callers in all processes together; time runs from "
        "the common start\ninstant to the last caller served.\n"
    )
    if not postgres_url:
        print(
            f"Note: no PostgreSQL server given (--postgres-url or {POSTGRES_ENV}); "
            "the PostgreSQL rows are skipped.\n"
        )
    print(format_line(HEADER), flush=True)

    rows: list[Row] = []
    with (
        running_token_endpoint(args.delay) as endpoint,
        tempfile.TemporaryDirectory(prefix="authwire-bench-") as scratch,
    ):
        sqlite = Backend("sqlite", f"sqlite:///{Path(scratch, 'bench.db')}", (1,))
        rows += await run_backend(
            sqlite,
            endpoint,
            sizes=sizes,
            data_dir=Path(scratch),
            repeat=args.repeat,
            warm_up=not args.cold,
            profile_dir=args.profile_dir,
        )
        if postgres_url:
            async with postgres_database(postgres_url) as url:
                rows += await run_backend(
                    Backend("postgresql", url, (1, 4)),
                    endpoint,
                    sizes=sizes,
                    data_dir=Path(scratch),
                    repeat=args.repeat,
                    warm_up=not args.cold,
                    profile_dir=args.profile_dir,
                )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description="N concurrent callers on an expired account: token "
        "requests and time to the last caller, beside the ideal."
    )
    parser.add_argument(
        "--postgres-url",
        help=f"a PostgreSQL server to create a scratch database on "
        f"(default: ${POSTGRES_ENV})",
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.05,
        help="seconds the token endpoint takes to answer (default 0.05)",
    )
    parser.add_argument(
        "--sizes",
        default="1,100,1000,10000",
        help="comma-separated numbers of callers (default 1,100,1000,10000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="storms per row; the row shows their medians (default 3)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time the storm in workers that have not refreshed before",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        help="write each worker's cProfile statistics of its storm under here",
    )
    rows = asyncio.run(bench(parser.parse_args()))

    broken = [row for row in rows if row.broken]
    if broken:
        print(
            f"\n!!! {len(broken)} RUN(S) BROKE: the keeper did not give every "
            "caller one token from exactly one refresh. See BROKEN above. !!!",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
