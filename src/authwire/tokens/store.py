"""Writing a newly granted token set into an account, encrypted."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountStatus
from authwire.accounts.service import set_status
from authwire.db.models import AuthAccount, TokenSet
from authwire.db.types import utcnow
from authwire.notifications.outbox import AccountEvent, enqueue_account_event
from authwire.oauth.token_endpoint import TokenResponse
from authwire.secrets import Keyring


async def store_new_grant(
    session: AsyncSession,
    account: AuthAccount,
    response: TokenResponse,
    keyring: Keyring,
    *,
    authorized_by_id: int | None,
) -> TokenSet:
    """Replace the account's tokens with a newly granted set; it is authorized,
    and when it needed reauthorization, its admins hear that it recovered.

    The account is read again first, under its row lock on PostgreSQL: the
    code exchange takes time, and the keeper may have changed the account
    meanwhile (to needs_reauthorization, say). Writing from the stale copy
    would leave that change standing, because an attribute set to the value
    it had when read is not written at all.
    """
    await session.refresh(account, with_for_update=True)
    recovering = account.status == AccountStatus.NEEDS_REAUTHORIZATION
    now = utcnow()
    token_set = TokenSet(
        access_token_enc=keyring.encrypt(response.access_token.reveal()),
        refresh_token_enc=(
            keyring.encrypt(response.refresh_token.reveal())
            if response.refresh_token
            else None
        ),
        token_type=response.token_type,
        expires_at=response.expires_at,
        scope=response.scope,
        obtained_at=now,
        authorized_by_id=authorized_by_id,
        authorized_at=now,
        version=(account.token_set.version + 1) if account.token_set else 1,
    )
    account.token_set = token_set
    set_status(account, AccountStatus.AUTHORIZED, None)
    if recovering:
        await enqueue_account_event(session, account, AccountEvent.RECOVERED, None)
    return token_set
