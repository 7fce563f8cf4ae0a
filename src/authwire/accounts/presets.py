"""What Authwire knows about Google's and Microsoft's authorization servers, so
that an admin enters only a client ID, a secret and a scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from authwire.accounts.kinds import AccountKind, ClientAuthMethod
from authwire.db.models import AuthAccount

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_AUTHORIZATION_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token"
GOOGLE_REVOCATION_ENDPOINT = "https://oauth2.googleapis.com/revoke"

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_DEFAULT_TENANT = "common"
# Microsoft hands out refresh tokens only when this scope is asked for.
MICROSOFT_OFFLINE_SCOPE = "offline_access"


@dataclass(frozen=True)
class OAuthEndpoints:
    authorization_endpoint: str | None
    token_endpoint: str | None
    revocation_endpoint: str | None
    # The issuer identifier that an RFC 9207 `iss` parameter must match, when
    # known; otherwise the callback compares origins (see oauth.flow).
    issuer: str | None


def endpoints_for(account: AuthAccount) -> OAuthEndpoints:
    kind = AccountKind(account.kind)
    if kind is AccountKind.OAUTH2_GOOGLE:
        return OAuthEndpoints(
            GOOGLE_AUTHORIZATION_ENDPOINT,
            GOOGLE_TOKEN_ENDPOINT,
            GOOGLE_REVOCATION_ENDPOINT,
            GOOGLE_ISSUER,
        )
    if kind is AccountKind.OAUTH2_MICROSOFT:
        tenant = account.tenant or MICROSOFT_DEFAULT_TENANT
        base = f"{MICROSOFT_LOGIN}/{tenant}/oauth2/v2.0"
        # For the multi-tenant aliases (common, organizations, consumers) the
        # issuer depends on the signed-in user's tenant, so none is fixed here.
        issuer = (
            None
            if tenant in ("common", "organizations", "consumers")
            else (f"{MICROSOFT_LOGIN}/{tenant}/v2.0")
        )
        return OAuthEndpoints(f"{base}/authorize", f"{base}/token", None, issuer)
    return OAuthEndpoints(
        account.authorization_endpoint,
        account.token_endpoint,
        account.revocation_endpoint,
        account.issuer,
    )


def effective_scope(kind: AccountKind, scope: str | None) -> str:
    """The scope sent to the provider: the admin's, plus what the kind needs."""
    scopes = (scope or "").split()
    if kind is AccountKind.OAUTH2_MICROSOFT and MICROSOFT_OFFLINE_SCOPE not in scopes:
        scopes.append(MICROSOFT_OFFLINE_SCOPE)
    return " ".join(scopes)


def default_client_auth_method(kind: AccountKind) -> ClientAuthMethod:
    # Google and Microsoft both document credentials in the request body.
    if kind in (AccountKind.OAUTH2_GOOGLE, AccountKind.OAUTH2_MICROSOFT):
        return ClientAuthMethod.CLIENT_SECRET_POST
    return ClientAuthMethod.CLIENT_SECRET_BASIC
