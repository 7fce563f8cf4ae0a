"""The kinds of auth account and the statuses an account moves through."""

from __future__ import annotations

from enum import StrEnum


class AccountKind(StrEnum):
    OAUTH2_GENERIC = "oauth2_generic"
    OAUTH2_GOOGLE = "oauth2_google"
    OAUTH2_MICROSOFT = "oauth2_microsoft"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    BASIC = "basic"
    API_KEY = "api_key"
    BEARER = "bearer"

    @property
    def uses_authorization_code(self) -> bool:
        """Kinds whose tokens come from the Generate button (a person's consent)."""
        return self in AUTHORIZATION_CODE_KINDS

    @property
    def is_oauth(self) -> bool:
        return (
            self in AUTHORIZATION_CODE_KINDS or self is self.OAUTH2_CLIENT_CREDENTIALS
        )


AUTHORIZATION_CODE_KINDS = frozenset(
    {
        AccountKind.OAUTH2_GENERIC,
        AccountKind.OAUTH2_GOOGLE,
        AccountKind.OAUTH2_MICROSOFT,
    }
)


class AccountStatus(StrEnum):
    # No tokens yet, or they were cleared because the grant's identity changed.
    NOT_AUTHORIZED = "not_authorized"
    # Tokens (or, for static kinds, complete credentials) that calls can use.
    AUTHORIZED = "authorized"
    # The provider refused the grant, or the scope changed: only a new Generate
    # brings the account back. `status_reason` says why.
    NEEDS_REAUTHORIZATION = "needs_reauthorization"


class ClientAuthMethod(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 2.3.1)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"


class ApiKeyLocation(StrEnum):
    HEADER = "header"
    QUERY = "query"
