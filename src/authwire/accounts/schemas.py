"""The shapes of auth accounts in the API. Secrets are accepted on input and
never returned: responses say only whether one is held (`has_client_secret`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from authwire.accounts.kinds import (
    AccountKind,
    AccountStatus,
    ApiKeyLocation,
    ClientAuthMethod,
)

SECRET_FIELDS = ("client_secret", "password", "api_key", "bearer_token")


class _AccountFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=4000)
    active: bool | None = None
    client_id: str | None = Field(None, max_length=500)
    client_secret: str | None = Field(None, max_length=4000)
    issuer: str | None = Field(None, max_length=2000)
    authorization_endpoint: str | None = Field(None, max_length=2000)
    token_endpoint: str | None = Field(None, max_length=2000)
    revocation_endpoint: str | None = Field(None, max_length=2000)
    scope: str | None = Field(None, max_length=4000)
    tenant: str | None = Field(None, max_length=200)
    token_endpoint_auth_method: ClientAuthMethod | None = None
    username: str | None = Field(None, max_length=500)
    password: str | None = Field(None, max_length=4000)
    api_key_name: str | None = Field(None, max_length=200)
    api_key_location: ApiKeyLocation | None = None
    api_key: str | None = Field(None, max_length=4000)
    bearer_token: str | None = Field(None, max_length=8000)


class AuthAccountCreate(_AccountFields):
    name: str = Field(min_length=1, max_length=200)
    kind: AccountKind


class AuthAccountUpdate(_AccountFields):
    """Only the fields present change; a secret left out is kept."""

    name: str | None = Field(None, min_length=1, max_length=200)
    kind: AccountKind | None = None


class TokenSetOut(BaseModel):
    token_type: str
    expires_at: datetime
    scope: str | None
    has_access_token: bool
    has_refresh_token: bool
    obtained_at: datetime
    authorized_by: str | None
    authorized_at: datetime
    refresh_count: int
    last_refresh_at: datetime | None
    last_refresh_error: str | None
    last_refresh_error_at: datetime | None
    consecutive_failures: int = Field(
        description="Transient refresh failures in a row (0 when healthy)."
    )
    next_attempt_at: datetime | None = Field(
        description="After failures, when the refresher tries again."
    )


class AuthAccountOut(BaseModel):
    id: int
    application_id: int
    name: str
    description: str
    kind: AccountKind
    active: bool
    status: AccountStatus
    status_reason: str | None
    status_changed_at: datetime
    client_id: str | None
    issuer: str | None
    authorization_endpoint: str | None
    token_endpoint: str | None
    revocation_endpoint: str | None
    scope: str | None
    effective_scope: str | None = Field(
        description="The scope requested from the provider: for Microsoft "
        "accounts it includes offline_access."
    )
    tenant: str | None
    token_endpoint_auth_method: ClientAuthMethod | None
    username: str | None
    api_key_name: str | None
    api_key_location: ApiKeyLocation | None
    has_client_secret: bool
    has_password: bool
    has_api_key: bool
    has_bearer_token: bool
    redirect_uri: str | None = Field(
        description="Register this redirect URI with the provider."
    )
    javascript_origin: str | None = Field(
        description="Register this origin where the provider asks for one."
    )
    token: TokenSetOut | None
    created_at: datetime
    updated_at: datetime


class AuthorizationStarted(BaseModel):
    """What Generate did: for the authorization-code kinds, the URL to open;
    for client credentials, a first token was requested at once."""

    authorization_url: str | None = Field(
        description="Open this URL in a browser, sign in and consent "
        "(null for client credentials accounts)."
    )
    expires_at: datetime | None = Field(
        description="The URL must be used before this time."
    )
    redirect_uri: str | None
    status: AccountStatus
    message: str
