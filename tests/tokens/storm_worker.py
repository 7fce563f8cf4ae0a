"""One process of a refresh storm: many callers ask the token keeper for the
same expired account's access token at the same wall-clock instant.

`tests.tokens.storm` starts one or more of these, for the test of the keeper
across processes and for `bench/refresh_storm.py`:

    python -m tests.tokens.storm_worker --account-id 7 --callers 100 \\
        --start-at 1800000000.25

with AUTHWIRE_DATABASE_URL and AUTHWIRE_SECRET_KEYS in the environment (the
database already migrated), exactly as a server process would be configured.
The process shares nothing with its siblings but the database, which is what
the keeper's row lock has to cope with.

It prints one JSON line, a `WorkerReport`. Tokens leave the process only as
SHA-256 digests: equal digests prove equal tokens without showing them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import text

from authwire.errors import AuthwireError
from authwire.gc_tuning import tune_garbage_collector
from authwire.runtime import Runtime, open_runtime
from authwire.settings import Settings


@dataclass(frozen=True)
class WorkerReport:
    """What one worker saw, in terms that cannot leak a token."""

    callers: int
    # SHA-256 hex digest of each distinct access token -> callers who got it.
    tokens: dict[str, int]
    # Callers whose token came out of a refresh (`AccessToken.refreshed`):
    # they found the token expired, so they took part in the storm rather
    # than arriving after it was over.
    waited: int
    # "ErrorClass: code" -> callers who got that error instead of a token.
    errors: dict[str, int]
    # Seconds between being ready and the start instant; negative means the
    # worker was still starting up when the others began.
    slack: float
    # Wall-clock time (time.time()) at which the last caller was served.
    finished_at: float
    # Seconds the garbage collector held the process during the storm.
    gc_pause: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> WorkerReport:
        return cls(**json.loads(line))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class _Outcome:
    token_digest: str | None
    waited: bool
    error: str | None
    finished_at: float


async def _one_caller(runtime: Runtime, account_id: int) -> _Outcome:
    try:
        token = await runtime.keeper.access_token(account_id)
    except Exception as exc:  # every failure is a finding, reported by kind
        kind = type(exc).__name__
        if isinstance(exc, AuthwireError):
            kind = f"{kind}: {exc.code}"
        return _Outcome(None, False, kind, time.time())
    return _Outcome(digest(token.value.reveal()), token.refreshed, None, time.time())


async def _warm_up(runtime: Runtime, account_id: int | None) -> None:
    """Open a database connection before the start, as a running server has
    one in its pool; connecting is not what the storm measures. Given an
    expired account of the worker's own, also run the refresh path through
    it once, as a server that has been up for a while has done."""
    async with runtime.sessions() as session:
        await session.execute(text("SELECT 1"))
    if account_id is not None:
        await runtime.keeper.access_token(account_id)
        await runtime.keeper.access_token(account_id)


class _GarbageCollectorClock:
    """Adds up the time the garbage collector runs, which grows with the
    number of live objects (here, thousands of waiting callers)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __enter__(self) -> _GarbageCollectorClock:
        gc.callbacks.append(self._on_collection)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


async def storm(
    *,
    account_id: int,
    callers: int,
    start_at: float,
    serve_within: float,
    warm_up_account_id: int | None,
    profile: Path | None,
) -> WorkerReport:
    """Open a runtime, wait for `start_at`, then run `callers` callers of
    `access_token` at once and give up if any is still waiting `serve_within`
    seconds later."""
    runtime = await open_runtime(Settings())
    try:
        await _warm_up(runtime, warm_up_account_id)
        # As `serve` does once it has started.
        tune_garbage_collector(runtime.settings.gc_threshold)
        slack = start_at - time.time()
        if slack > 0:
            await asyncio.sleep(slack)

        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        with _GarbageCollectorClock() as gc_clock:
            async with asyncio.timeout(serve_within):
                outcomes = await asyncio.gather(
                    *(_one_caller(runtime, account_id) for _ in range(callers))
                )
        finished_at = max((o.finished_at for o in outcomes), default=start_at)
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    finally:
        await runtime.aclose()

    tokens = Counter(o.token_digest for o in outcomes if o.token_digest is not None)
    errors = Counter(o.error for o in outcomes if o.error is not None)
    return WorkerReport(
        callers=callers,
        tokens=dict(tokens),
        waited=sum(o.waited for o in outcomes),
        errors=dict(errors),
        slack=slack,
        finished_at=finished_at,
        gc_pause=gc_clock.total,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account-id", type=int, required=True)
    parser.add_argument("--callers", type=int, required=True)
    parser.add_argument(
        "--start-at",
        type=float,
        required=True,
        help="wall-clock instant (seconds since the epoch) at which to begin",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="give up on callers not served this many seconds after the start",
    )
    parser.add_argument(
        "--warm-up-account-id",
        type=int,
        help="an expired account of this worker's own to refresh before the start",
    )
    parser.add_argument(
        "--profile", type=Path, help="write cProfile statistics of the storm here"
    )
    args = parser.parse_args()
    report = asyncio.run(
        storm(
            account_id=args.account_id,
            callers=args.callers,
            start_at=args.start_at,
            serve_within=args.timeout,
            warm_up_account_id=args.warm_up_account_id,
            profile=args.profile,
        )
    )
    print(report.to_json(), flush=True)


if __name__ == "__main__":
    main()
