"""Writing web service log entries, with group commit.

A call returns only once its log entry is committed, so that no call goes
unrecorded. One transaction per entry would make the log the bottleneck
(SQLite commits one writer at a time), so entries that arrive while a batch
is being written wait together and go in the next batch, in one transaction:
under load the batches grow, and each entry still waits for its own commit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authwire.db.models import WebServiceLog

log = logging.getLogger(__name__)


class LogWriter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 500
    ) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, entry: dict[str, Any]) -> int:
        """Store one entry (column values of `WebServiceLog`); returns its id."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="log-writer")
        # shield: a caller that is cancelled does not take its entry (or the
        # others in its batch) down with it.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                ids = await self._insert([entry for entry, _ in batch])
            except Exception as exc:  # every waiter hears of it
                log.exception("writing %d web service log entries failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), entry_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(entry_id)

    async def _insert(self, entries: list[dict[str, Any]]) -> list[int]:
        statement = insert(WebServiceLog).returning(
            WebServiceLog.id, sort_by_parameter_order=True
        )
        async with self._sessions() as session:
            result = await session.execute(statement, entries)
            ids = [int(row[0]) for row in result.all()]
            await session.commit()
        return ids
