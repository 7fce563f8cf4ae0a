"""The background refresher: renews tokens before calls need them.

Every round it renews, through the token keeper (so never twice at once):

- tokens that expire within `refresh_ahead_seconds`, so that workflow calls
  rarely wait for a refresh;
- tokens of authorization-code accounts not refreshed for
  `idle_refresh_hours`, because some providers expire refresh tokens that go
  unused (Google after six months, Microsoft after 90 days of inactivity);

skipping accounts whose last transient failure asked it to wait
(`next_attempt_at`, with backoff), at most `refresher_concurrency` at a time,
each started after a little jitter so that a provider does not see a burst.

With several processes on PostgreSQL, one of them leads: the one holding a
session-level advisory lock. If it dies, its connection closes, the lock is
released, and another process takes over at its next attempt. On SQLite there
is one process, which always leads.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from authwire.accounts.kinds import AUTHORIZATION_CODE_KINDS, AccountKind, AccountStatus
from authwire.db.models import AuthAccount, TokenSet
from authwire.db.types import utcnow
from authwire.errors import AccountUnavailableError, TokenEndpointUnavailableError
from authwire.metrics import Metrics
from authwire.settings import Settings
from authwire.tokens.keeper import TokenKeeper

log = logging.getLogger(__name__)

# pg_advisory_lock key of the refresher leader ("AWRF").
LEADER_LOCK_KEY = 0x41575246


@dataclass
class RefreshRound:
    """What one round did, for logs, metrics and tests."""

    renewed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    needing_reauthorization: int = 0


class Refresher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        keeper: TokenKeeper,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self._engine = engine
        self._keeper = keeper
        self._settings = settings
        self._metrics = metrics
        self._leader_connection: AsyncConnection | None = None

    async def due_accounts(self, now: datetime | None = None) -> list[int]:
        now = now or utcnow()
        ahead = timedelta(seconds=self._settings.refresh_ahead_seconds)
        idle_since = now - timedelta(hours=self._settings.idle_refresh_hours)
        last_renewal = func.coalesce(TokenSet.last_refresh_at, TokenSet.obtained_at)
        oauth_kinds = [k.value for k in AccountKind if k.is_oauth]
        code_kinds = [k.value for k in AUTHORIZATION_CODE_KINDS]
        idle = (last_renewal <= idle_since) & AuthAccount.kind.in_(code_kinds)
        query = (
            select(
                TokenSet.account_id,
                TokenSet.expires_at,
                TokenSet.obtained_at,
                idle.label("idle"),
            )
            .join(AuthAccount, AuthAccount.id == TokenSet.account_id)
            .where(
                AuthAccount.status == AccountStatus.AUTHORIZED.value,
                AuthAccount.kind.in_(oauth_kinds),
                or_(
                    TokenSet.next_attempt_at.is_(None), TokenSet.next_attempt_at <= now
                ),
                or_(TokenSet.expires_at <= now + ahead, idle),
            )
            .order_by(TokenSet.expires_at)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        # Renew ahead by refresh_ahead_seconds, but at most half a token's
        # lifetime ahead: a token that lives 60 s is not renewed every round.
        return [
            row.account_id
            for row in rows
            if row.idle
            or row.expires_at - min(ahead, (row.expires_at - row.obtained_at) / 2)
            <= now
        ]

    async def run_once(self, *, jitter: bool = True) -> RefreshRound:
        """One round over the due accounts; returns what happened."""
        result = RefreshRound()
        due = await self.due_accounts()
        limit = asyncio.Semaphore(self._settings.refresher_concurrency)

        async def renew(account_id: int) -> None:
            if jitter:
                await asyncio.sleep(random.uniform(0, 1.0))  # noqa: S311
            async with limit:
                try:
                    await self._keeper.renew(account_id)
                except AccountUnavailableError:
                    result.refused.append(account_id)
                except TokenEndpointUnavailableError:
                    result.failed.append(account_id)
                else:
                    result.renewed.append(account_id)

        await asyncio.gather(*(renew(account_id) for account_id in due))
        result.needing_reauthorization = await self._count_needing_reauthorization()
        if due or result.needing_reauthorization:
            log.info(
                "refresher: %d renewed, %d failed for now, %d refused; "
                "%d accounts need reauthorization",
                len(result.renewed),
                len(result.failed),
                len(result.refused),
                result.needing_reauthorization,
            )
        return result

    async def _count_needing_reauthorization(self) -> int:
        query = select(func.count()).where(
            AuthAccount.status == AccountStatus.NEEDS_REAUTHORIZATION.value
        )
        async with self._engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    async def is_leader(self) -> bool:
        """Take or keep the leadership; True while this process holds it."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._leader_connection is not None:
            try:
                await self._leader_connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died, and the lock with it
                log.warning("refresher: lost the leader connection")
                await self._drop_leadership()
        connection = await self._engine.connect()
        taken = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
        )
        await connection.commit()
        if taken:
            self._leader_connection = connection
            log.info("refresher: this process leads the refreshing")
            return True
        await connection.close()
        return False

    async def _drop_leadership(self) -> None:
        connection, self._leader_connection = self._leader_connection, None
        if connection is None:
            return
        try:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY}
            )
            await connection.commit()
        except Exception:  # closing releases the lock anyway
            log.debug("refresher: unlock failed; closing the connection")
        await connection.close()

    async def run(self, stop: anyio.Event) -> None:
        """Rounds until `stop` is set; errors are logged, never fatal."""
        interval = self._settings.refresher_interval_seconds
        try:
            while not stop.is_set():
                try:
                    if await self.is_leader():
                        await self.run_once()
                except Exception:
                    log.exception("refresher: the round failed; trying again later")
                pause = interval * random.uniform(0.9, 1.1)  # noqa: S311
                with anyio.move_on_after(pause):
                    await stop.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await self._drop_leadership()
