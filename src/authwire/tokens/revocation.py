"""Revoking an account's grant at the provider (RFC 7009), when the account is
deleted or an admin revokes it.

The refresh token is revoked when there is one: RFC 7009 section 2.1 asks
servers to invalidate the access tokens of the same grant with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountKind
from authwire.accounts.presets import endpoints_for
from authwire.accounts.service import clear_tokens, ensure_unused, read_secrets
from authwire.db.models import AuthAccount
from authwire.errors import TokenEndpointUnavailableError
from authwire.oauth.token_endpoint import ClientCredentials, TokenEndpointClient
from authwire.secrets import Keyring, Secret

log = logging.getLogger(__name__)


class RevocationOut(BaseModel):
    revoked: bool
    message: str


@dataclass(frozen=True)
class Revoker:
    keyring: Keyring
    token_endpoint: TokenEndpointClient

    async def revoke(self, account: AuthAccount) -> RevocationOut:
        """Revoke at the provider; raises `TokenEndpointUnavailableError` when
        the provider could not be asked or did not confirm."""
        kind = AccountKind(account.kind)
        token_set = account.token_set
        if not kind.is_oauth or token_set is None:
            return RevocationOut(
                revoked=False,
                message="The account holds no OAuth tokens, so there was nothing "
                "to revoke at the provider.",
            )
        endpoint = endpoints_for(account).revocation_endpoint
        if endpoint is None:
            return RevocationOut(
                revoked=False,
                message="The provider has no revocation endpoint that Authwire "
                "knows of, so the grant is still valid there: remove Authwire's "
                "access in the provider's own settings (for Microsoft, the "
                "enterprise application's permissions or My Apps). Set "
                "revocation_endpoint on the account if the provider has one.",
            )
        if token_set.refresh_token_enc is not None:
            token, hint = token_set.refresh_token_enc, "refresh_token"
        else:
            token, hint = token_set.access_token_enc, "access_token"
        assert account.client_id is not None
        await self.token_endpoint.revoke(
            endpoint,
            ClientCredentials(
                account.client_id,
                read_secrets(self.keyring, account).get("client_secret"),
                account.token_endpoint_auth_method or "client_secret_basic",
            ),
            token=Secret(self.keyring.decrypt(token)),
            token_type_hint=hint,
        )
        log.info("auth account %s: grant revoked at the provider", account.id)
        return RevocationOut(revoked=True, message="The provider revoked the grant.")


async def delete_account(
    session: AsyncSession, revoker: Revoker, account: AuthAccount
) -> RevocationOut:
    """Delete the account, revoking its grant first where the provider has a
    revocation endpoint. The account goes even when the provider cannot be
    reached; the outcome says so. Refused while methods use the account."""
    await ensure_unused(session, account)
    try:
        outcome = await revoker.revoke(account)
    except TokenEndpointUnavailableError as exc:
        outcome = RevocationOut(
            revoked=False,
            message=f"{exc.message} The account was deleted all the same.",
        )
    await session.delete(account)
    return outcome


async def revoke_account(
    session: AsyncSession, revoker: Revoker, account: AuthAccount
) -> RevocationOut:
    """Revoke the grant and forget the tokens; when the provider cannot be
    reached, `TokenEndpointUnavailableError` is raised and nothing changes."""
    outcome = await revoker.revoke(account)
    if account.token_set is not None:
        clear_tokens(account)
    return outcome
