"""Writing a token response into an account's token set, encrypted."""

from __future__ import annotations

from authwire.accounts.kinds import AccountStatus
from authwire.accounts.service import set_status
from authwire.db.models import AuthAccount, TokenSet
from authwire.db.types import utcnow
from authwire.oauth.token_endpoint import TokenResponse
from authwire.secrets import Keyring


def store_new_grant(
    account: AuthAccount,
    response: TokenResponse,
    keyring: Keyring,
    *,
    authorized_by_id: int | None,
) -> TokenSet:
    """Replace the account's tokens with a newly granted set; it is authorized."""
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
    return token_set
