"""The asyncio floor of a refresh storm: what N callers cost when the work
they share is nothing but the token endpoint's delay.

    python bench/_storm_floor.py CALLERS DELAY

Run in a fresh process, as each storm worker is: N callers started at once
with `asyncio.gather`, each taking the one shared task or starting it,
waiting on it through `asyncio.shield` (as the token keeper does, so that a
cancelled caller leaves the refresh to the others), and hashing its token
and reading the clock afterwards (as each storm caller does). No database,
no HTTP, no decryption: the task sleeps DELAY seconds. The garbage
collector is tuned as `serve` tunes it. Prints milliseconds from the start
to the last caller served.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time

from authwire.gc_tuning import tune_garbage_collector
from authwire.settings import Settings


async def storm(callers: int, delay: float) -> float:
    shared: dict[int, asyncio.Task[str]] = {}

    async def refresh() -> str:
        await asyncio.sleep(delay)
        return "access-token"

    async def caller() -> float:
        task = shared.get(1)
        if task is None:
            task = shared[1] = asyncio.create_task(refresh())
        token = await asyncio.shield(task)
        hashlib.sha256(token.encode()).hexdigest()
        return time.time()

    started = time.time()
    served = await asyncio.gather(*(caller() for _ in range(callers)))
    return (max(served) - started) * 1000


def main() -> None:
    callers, delay = int(sys.argv[1]), float(sys.argv[2])
    tune_garbage_collector(Settings.model_fields["gc_threshold"].default)
    print(f"{asyncio.run(storm(callers, delay)):.3f}")


if __name__ == "__main__":
    main()
