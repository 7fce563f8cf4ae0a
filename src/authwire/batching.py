"""Batches: one database round trip for everyone who asked while the previous
one was under way.

Under load, most of a call's cost would be small statements: reading the
method it performs and writing its log entry each take a round trip to the
database, which on this path costs more than the HTTP request itself. A
`Batcher` turns the requests that pile up during one round trip into the next
one: the first request of a quiet moment goes out alone and at once, and
under load the batches grow with the load, so the cost per call falls as
calls rise.

A request never joins a batch that is already running: its answer comes from
work that began after it was asked. So a read made just after a write sees
the write (a Test Request right after an edit performs the edited method),
and a write is committed when its caller hears of it.

Each caller waits on a future of its own. A caller that is cancelled gives up
its answer, not its item: an entry it asked to write is still written, and
the other callers of its batch are not disturbed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

# One outcome per item, in the items' order: a result, or the exception that
# this item alone fails with.
BatchRun = Callable[[list[ItemT]], Awaitable[Sequence[ResultT | Exception]]]


class Batcher(Generic[ItemT, ResultT]):
    """Runs `run` over the items submitted while the previous run was busy.

    `run` gets at most `max_batch` items and returns one outcome per item. If
    it raises, every item of that batch fails with the same exception.
    """

    def __init__(
        self, run: BatchRun[ItemT, ResultT], *, max_batch: int, name: str
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1.")
        self._run = run
        self._max_batch = max_batch
        self._name = name
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: ItemT) -> ResultT:
        """The outcome of `item`, from the next batch to start."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.append((item, future))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain(), name=self._name)
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes = await self._run([item for item, _ in batch])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outcomes = [exc] * len(batch)
                if len(outcomes) != len(batch):
                    error = RuntimeError(
                        f"{self._name} returned {len(outcomes)} outcomes for "
                        f"{len(batch)} items."
                    )
                    outcomes = [error] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
                batch = []
        except asyncio.CancelledError:
            # The loop is shutting down: nobody may be left waiting forever.
            for _, future in [*batch, *self._pending]:
                future.cancel()
            self._pending.clear()
            raise
        finally:
            self._drainer = None


def _settle(future: asyncio.Future[ResultT], outcome: ResultT | Exception) -> None:
    if future.done():  # its caller was cancelled
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
