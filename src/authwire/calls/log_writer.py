"""Writing web service log entries, with group commit.

A call returns only once its log entry is committed, so that no call goes
unrecorded. One transaction per entry would make the log the bottleneck
(SQLite commits one writer at a time), so entries that arrive while a batch
is being written wait together and go in the next batch: one multi-row INSERT
in one transaction (`authwire.batching`). Under load the batches grow, and
each entry still waits for its own commit.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authwire.batching import Batcher
from authwire.db.models import WebServiceLog

log = logging.getLogger(__name__)

_INSERT = insert(WebServiceLog).returning(
    WebServiceLog.id, sort_by_parameter_order=True
)


class LogWriter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 500
    ) -> None:
        self._sessions = sessions
        self._batcher: Batcher[dict[str, Any], int] = Batcher(
            self._insert, max_batch=max_batch, name="web service log writer"
        )

    async def write(self, entry: dict[str, Any]) -> int:
        """Store one entry (column values of `WebServiceLog`); returns its id."""
        return await self._batcher.submit(entry)

    async def _insert(self, entries: list[dict[str, Any]]) -> list[int]:
        try:
            async with self._sessions() as session:
                result = await session.execute(_INSERT, entries)
                ids = [int(row[0]) for row in result.all()]
                await session.commit()
        except Exception:
            # Logged once here; each caller of the batch gets the exception.
            log.exception("writing %d web service log entries failed", len(entries))
            raise
        return ids
