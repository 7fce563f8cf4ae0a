"""The token keeper: a valid access token for any OAuth account, on demand.

Every call that needs a token asks `TokenKeeper.access_token`. A token that
expires within the skew is renewed first: with the refresh token for the
authorization-code kinds, with the client's own credentials for the client
credentials kind.

Exactly one refresh per expiry, however many callers wait:

- in one process, the first caller starts a refresh task and every other
  caller awaits that same task (so ten thousand callers cost one request, and
  a caller that gives up does not cancel the refresh for the others);
- across processes (PostgreSQL), the refresh holds `SELECT ... FOR UPDATE` on
  the account's row while it asks the token endpoint, and decides under that
  lock, from a fresh read, whether a refresh is still needed: another process
  may have done it already.

Reads are coalesced the same way: callers that arrive while a read of the
account (and the refresh it may start) is under way share its result and its
one decryption, so a storm of callers costs one query, not one each.

SQLite installations run one process, so the in-process task is the lock. The
read transaction there ends before the token request, because SQLite cannot
turn a read transaction that others have written past into a write one.

Writes are compare-and-set on the token set's version: if a new grant (the
Generate button) replaced the tokens while a refresh was under way, the new
grant wins and the refresh result is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authwire.accounts.kinds import AccountKind, AccountStatus
from authwire.accounts.presets import effective_scope, endpoints_for
from authwire.accounts.service import read_secrets
from authwire.db.models import AuthAccount, TokenSet
from authwire.db.types import utcnow
from authwire.errors import (
    AccountUnavailableError,
    TokenEndpointError,
    TokenEndpointUnavailableError,
)
from authwire.metrics import Metrics
from authwire.notifications.outbox import AccountEvent, enqueue_account_event
from authwire.oauth.token_endpoint import (
    ClientCredentials,
    TokenEndpointClient,
    TokenResponse,
)
from authwire.secrets import Keyring, Secret

log = logging.getLogger(__name__)

T = TypeVar("T")

# The first retry after a transient failure; it doubles up to the maximum.
FIRST_BACKOFF = timedelta(seconds=30)


@dataclass(frozen=True)
class AccessToken:
    value: Secret
    token_type: str
    # The token set's version: pass it back to `refresh_after_rejection`.
    version: int
    expires_at: datetime
    # Whether this caller had to wait for a refresh.
    refreshed: bool


@dataclass(frozen=True)
class _Snapshot:
    """What a call needs to know of an account, read in one query."""

    name: str
    kind: AccountKind
    status: str
    status_reason: str | None
    token: AccessToken | None
    obtained_at: datetime | None


def backoff_delay(failures: int, maximum: timedelta) -> timedelta:
    """How long to wait after `failures` transient failures in a row, with
    jitter so that accounts of one provider do not retry in step."""
    base = FIRST_BACKOFF * (2 ** max(failures - 1, 0))
    jitter = random.uniform(0.8, 1.2)  # noqa: S311 (not for security)
    delay: timedelta = min(base, maximum) * jitter
    return delay


class TokenKeeper:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        token_endpoint: TokenEndpointClient,
        metrics: Metrics,
        skew: timedelta,
        backoff_max: timedelta,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._token_endpoint = token_endpoint
        self._metrics = metrics
        self.skew = skew
        self._backoff_max = backoff_max
        self._inflight: dict[int, asyncio.Task[AccessToken]] = {}
        self._fetches: dict[int, asyncio.Task[AccessToken]] = {}
        self._row_locks = sessions.kw["bind"].dialect.name == "postgresql"

    async def access_token(self, account_id: int) -> AccessToken:
        """A token valid for at least the skew, refreshing first if needed.

        Raises `AccountUnavailableError` when the account cannot be used until
        an admin acts, and `TokenEndpointUnavailableError` when a needed
        refresh failed for a reason that may pass.
        """
        return await self._coalesced(self._fetches, account_id, self._fetch)

    async def _fetch(self, account_id: int) -> AccessToken:
        """Read the account and, when its token is expiring, refresh it: one
        task that every concurrent caller awaits, so that a storm of callers
        costs one query, one refresh, and one wake-up each."""
        snapshot = await self._read(account_id)
        self._check_usable(
            snapshot.kind, snapshot.status, snapshot.name, snapshot.status_reason
        )
        token = snapshot.token
        obtained_at = snapshot.obtained_at
        if (
            token is not None
            and obtained_at is not None
            and not self.is_expiring(token.expires_at, obtained_at)
        ):
            return token
        stale = token.version if token is not None else 0
        return await self._single_flight(account_id, stale_version=stale, force=False)

    async def _read(self, account_id: int) -> _Snapshot:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(
                        AuthAccount.name,
                        AuthAccount.kind,
                        AuthAccount.status,
                        AuthAccount.status_reason,
                        TokenSet.access_token_enc,
                        TokenSet.token_type,
                        TokenSet.version,
                        TokenSet.expires_at,
                        TokenSet.obtained_at,
                    )
                    .outerjoin(TokenSet, TokenSet.account_id == AuthAccount.id)
                    .where(AuthAccount.id == account_id)
                )
            ).one_or_none()
        if row is None:
            raise AccountUnavailableError(
                f"Auth account {account_id} does not exist (it may have been deleted).",
                code="account_not_found",
            )
        token = None
        if row.access_token_enc is not None:
            token = AccessToken(
                value=Secret(self._keyring.decrypt(row.access_token_enc)),
                token_type=row.token_type,
                version=row.version,
                expires_at=row.expires_at,
                refreshed=False,
            )
        return _Snapshot(
            row.name,
            AccountKind(row.kind),
            row.status,
            row.status_reason,
            token,
            row.obtained_at,
        )

    @staticmethod
    async def _coalesced(
        tasks: dict[int, asyncio.Task[T]],
        account_id: int,
        work: Callable[[int], Coroutine[Any, Any, T]],
    ) -> T:
        """Run `work(account_id)` once for all who ask while it runs."""
        task = tasks.get(account_id)
        if task is None:
            task = asyncio.create_task(work(account_id))
            tasks[account_id] = task
            task.add_done_callback(lambda _: tasks.pop(account_id, None))
        # shield: a caller that is cancelled leaves the work running for the
        # others who wait on it.
        return await asyncio.shield(task)

    async def refresh_after_rejection(
        self, account_id: int, rejected_version: int
    ) -> AccessToken:
        """The web service answered 401 to the token of `rejected_version`.

        If that is still the current token, refresh it now, whatever its
        expiry says; if another caller refreshed meanwhile, return that newer
        token instead of refreshing again.
        """
        return await self._single_flight(
            account_id, stale_version=rejected_version, force=True
        )

    async def renew(self, account_id: int) -> AccessToken:
        """Refresh now, for the background refresher (ahead of expiry or
        because the account has been idle)."""
        async with self._sessions() as session:
            _, token_set = await self._load(session, account_id, lock=False)
        stale = token_set.version if token_set is not None else 0
        return await self._single_flight(account_id, stale_version=stale, force=True)

    async def generate_client_credentials(self, account_id: int) -> AccessToken:
        """Generate for a client credentials account: ask for a token now,
        whatever the account's status, so that an admin who fixed the client
        secret sees at once whether it works."""
        task = self._inflight.get(account_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return await self._refresh(account_id, stale_version=0, force=True, admin=True)

    async def _single_flight(
        self, account_id: int, *, stale_version: int, force: bool
    ) -> AccessToken:
        async def refresh(account_id: int) -> AccessToken:
            return await self._refresh(
                account_id, stale_version=stale_version, force=force
            )

        return await self._coalesced(self._inflight, account_id, refresh)

    def _expiring(self, token_set: TokenSet) -> bool:
        return self.is_expiring(token_set.expires_at, token_set.obtained_at)

    def is_expiring(self, expires_at: datetime, obtained_at: datetime) -> bool:
        """Whether a token is too close to its expiry to hand out.

        The margin is the skew, but at most a quarter of the token's
        lifetime: with a 60 s skew, a token that lives 60 s would otherwise
        count as expiring from the moment it is issued, and every call would
        refresh it.
        """
        margin = min(self.skew, (expires_at - obtained_at) / 4)
        return expires_at - margin <= utcnow()

    def _token_of(self, token_set: TokenSet, *, refreshed: bool) -> AccessToken:
        return AccessToken(
            value=Secret(self._keyring.decrypt(token_set.access_token_enc)),
            token_type=token_set.token_type,
            version=token_set.version,
            expires_at=token_set.expires_at,
            refreshed=refreshed,
        )

    async def _load(
        self, session: AsyncSession, account_id: int, *, lock: bool
    ) -> tuple[AuthAccount, TokenSet | None]:
        query = select(AuthAccount).where(AuthAccount.id == account_id)
        if lock:
            query = query.with_for_update()
        account = await session.scalar(query.execution_options(populate_existing=True))
        if account is None:
            raise AccountUnavailableError(
                f"Auth account {account_id} does not exist (it may have been deleted).",
                code="account_not_found",
            )
        token_set = await session.scalar(
            select(TokenSet)
            .where(TokenSet.account_id == account_id)
            .execution_options(populate_existing=True)
        )
        return account, token_set

    @staticmethod
    def _check_usable(
        kind: AccountKind, status: str, name: str, reason: str | None
    ) -> None:
        if not kind.is_oauth:
            raise AccountUnavailableError(
                f"Auth account {name!r} is a {kind.value} account; it has no "
                "OAuth tokens.",
                code="not_an_oauth_account",
            )
        if status == AccountStatus.NEEDS_REAUTHORIZATION:
            raise AccountUnavailableError(
                f"Auth account {name!r} needs to be authorized again: "
                f"{reason or 'the provider refused its grant.'} "
                "An admin must generate new tokens (Generate).",
                code="needs_reauthorization",
            )
        if (
            status != AccountStatus.AUTHORIZED
            and kind is not AccountKind.OAUTH2_CLIENT_CREDENTIALS
        ):
            raise AccountUnavailableError(
                f"Auth account {name!r} has no tokens yet: an admin must "
                "generate them first (Generate).",
                code="not_authorized",
            )

    async def _refresh(
        self, account_id: int, *, stale_version: int, force: bool, admin: bool = False
    ) -> AccessToken:
        async with self._sessions() as session:
            account, token_set = await self._load(
                session, account_id, lock=self._row_locks
            )
            if not admin:
                self._check_usable(
                    AccountKind(account.kind),
                    account.status,
                    account.name,
                    account.status_reason,
                )
            current = token_set.version if token_set is not None else 0
            if token_set is not None and not admin:
                needed = (
                    current == stale_version if force else self._expiring(token_set)
                )
                if not needed:
                    # Someone else refreshed while this caller waited.
                    return self._token_of(token_set, refreshed=True)
            if not self._row_locks:
                await session.commit()  # end SQLite's read transaction; see above

            try:
                response = await self._request(account, token_set)
            except TokenEndpointError as exc:
                if not await self._refused(session, account, current, exc):
                    return await self._current_token(session, account_id)
                raise AccountUnavailableError(
                    f"Auth account {account.name!r} needs to be authorized again: "
                    f"{account.status_reason}",
                    code="needs_reauthorization",
                ) from exc
            except TokenEndpointUnavailableError as exc:
                await self._failed(session, account_id, current, exc)
                raise

            stored = await self._store(session, account, token_set, current, response)
            if stored is None:
                return await self._current_token(session, account_id)
            return stored

    async def _current_token(
        self, session: AsyncSession, account_id: int
    ) -> AccessToken:
        """The tokens of a new grant that replaced ours meanwhile; it wins."""
        _, token_set = await self._load(session, account_id, lock=False)
        assert token_set is not None
        return self._token_of(token_set, refreshed=True)

    async def _request(
        self, account: AuthAccount, token_set: TokenSet | None
    ) -> TokenResponse:
        kind = AccountKind(account.kind)
        endpoints = endpoints_for(account)
        assert endpoints.token_endpoint is not None and account.client_id is not None
        credentials = ClientCredentials(
            account.client_id,
            read_secrets(self._keyring, account).get("client_secret"),
            account.token_endpoint_auth_method or "client_secret_basic",
        )
        if kind is AccountKind.OAUTH2_CLIENT_CREDENTIALS:
            grant_type = "client_credentials"
            request = self._token_endpoint.client_credentials(
                endpoints.token_endpoint,
                credentials,
                scope=effective_scope(kind, account.scope) or None,
            )
        else:
            assert token_set is not None
            if token_set.refresh_token_enc is None:
                raise TokenEndpointError(
                    "The account holds no refresh token.",
                    error="no_refresh_token",
                    description=None,
                )
            grant_type = "refresh_token"
            request = self._token_endpoint.refresh(
                endpoints.token_endpoint,
                credentials,
                refresh_token=Secret(
                    self._keyring.decrypt(token_set.refresh_token_enc)
                ),
                granted_scope=token_set.scope,
            )
        try:
            response = await request
        except TokenEndpointError:
            self._count(grant_type, "refused")
            raise
        except TokenEndpointUnavailableError:
            self._count(grant_type, "unavailable")
            raise
        self._count(grant_type, "success")
        return response

    def _count(self, grant_type: str, outcome: str) -> None:
        self._metrics.token_requests.labels(
            grant_type=grant_type, outcome=outcome
        ).inc()

    async def _store(
        self,
        session: AsyncSession,
        account: AuthAccount,
        token_set: TokenSet | None,
        current_version: int,
        response: TokenResponse,
    ) -> AccessToken | None:
        """Write the new tokens if nobody replaced the old ones; commit."""
        now = utcnow()
        access_enc = self._keyring.encrypt(response.access_token.reveal())
        values = {
            "access_token_enc": access_enc,
            "token_type": response.token_type,
            "expires_at": response.expires_at,
            "scope": response.scope,
            "obtained_at": now,
            "version": current_version + 1,
            "last_refresh_at": now,
            "last_refresh_error": None,
            "last_refresh_error_at": None,
            "consecutive_failures": 0,
            "next_attempt_at": None,
        }
        if response.refresh_token is not None:
            # Rotation: the new refresh token replaces the old one in the same
            # transaction, committed before the new access token is handed out.
            values["refresh_token_enc"] = self._keyring.encrypt(
                response.refresh_token.reveal()
            )
        if token_set is None:
            session.add(
                TokenSet(
                    account_id=account.id,
                    authorized_at=now,
                    refresh_count=1,
                    **values,
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
        else:
            result = await session.execute(
                update(TokenSet)
                .where(
                    TokenSet.account_id == account.id,
                    TokenSet.version == current_version,
                )
                .values(refresh_count=TokenSet.refresh_count + 1, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return None
            await session.commit()
        if account.status != AccountStatus.AUTHORIZED:
            # A client credentials account becomes authorized by its first token.
            await self._mark_authorized(session, account)

        log.info(
            "auth account %s: access token renewed (version %s, expires %s%s)",
            account.id,
            current_version + 1,
            response.expires_at.isoformat(timespec="seconds"),
            ", refresh token rotated" if response.refresh_token is not None else "",
        )
        return AccessToken(
            value=response.access_token,
            token_type=response.token_type,
            version=current_version + 1,
            expires_at=response.expires_at,
            refreshed=True,
        )

    async def _mark_authorized(
        self, session: AsyncSession, account: AuthAccount
    ) -> None:
        account = await session.merge(account)
        previous = account.status
        account.status = AccountStatus.AUTHORIZED.value
        account.status_reason = None
        account.status_changed_at = utcnow()
        if previous == AccountStatus.NEEDS_REAUTHORIZATION:
            await enqueue_account_event(session, account, AccountEvent.RECOVERED, None)
        await session.commit()

    async def _refused(
        self,
        session: AsyncSession,
        account: AuthAccount,
        current_version: int,
        exc: TokenEndpointError,
    ) -> bool:
        """The provider refused the grant: the account needs a new Generate.

        Returns False, changing nothing, when a new grant replaced the refused
        one meanwhile."""
        reason = exc.message
        account = await session.merge(account)
        token_version = await session.scalar(
            select(TokenSet.version).where(TokenSet.account_id == account.id)
        )
        if (token_version or 0) != current_version:
            await session.rollback()
            return False
        now = utcnow()
        account.status = AccountStatus.NEEDS_REAUTHORIZATION.value
        account.status_reason = reason
        account.status_changed_at = now
        await session.execute(
            update(TokenSet)
            .where(TokenSet.account_id == account.id)
            .values(last_refresh_error=reason, last_refresh_error_at=now)
            .execution_options(synchronize_session=False)
        )
        await enqueue_account_event(
            session, account, AccountEvent.NEEDS_REAUTHORIZATION, reason
        )
        await session.commit()
        log.warning(
            "auth account %s needs reauthorization: the provider answered %s",
            account.id,
            exc.error,
        )
        return True

    async def _failed(
        self,
        session: AsyncSession,
        account_id: int,
        current_version: int,
        exc: TokenEndpointUnavailableError,
    ) -> None:
        """A transient failure: the account stays authorized; back off."""
        token_set = await session.scalar(
            select(TokenSet)
            .where(TokenSet.account_id == account_id)
            .execution_options(populate_existing=True)
        )
        if token_set is not None and token_set.version == current_version:
            now = utcnow()
            token_set.consecutive_failures += 1
            token_set.last_refresh_error = exc.message
            token_set.last_refresh_error_at = now
            token_set.next_attempt_at = now + backoff_delay(
                token_set.consecutive_failures, self._backoff_max
            )
        await session.commit()
        log.warning(
            "auth account %s: refresh failed for now (%s); it stays authorized",
            account_id,
            exc.code,
        )
