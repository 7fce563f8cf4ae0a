"""The tables. Columns ending in `_enc` hold Fernet ciphertext (see
`authwire.secrets`); nothing secret is ever stored in any other column.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    orm_insert_sentinel,
    relationship,
)

from authwire.db.types import UTCDateTime, utcnow

# The largest id an Integer primary key holds on both databases (PostgreSQL's
# integer is 32 bits). Ids from outside are checked against it before any
# query, so that one too large is a clear 422, not a database error.
MAX_ROW_ID = 2**31 - 1

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Where notifications about the user's applications go (optional).
    email: Mapped[str | None] = mapped_column(String(320))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A personal API token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationAdmin(Base):
    """A user granted the administration of one application."""

    __tablename__ = "application_admins"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class AuthAccount(Base):
    __tablename__ = "auth_accounts"
    __table_args__ = (UniqueConstraint("application_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(40))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # OAuth 2.0 settings (NULL for the kinds that do not use them).
    client_id: Mapped[str | None] = mapped_column(String(500))
    issuer: Mapped[str | None] = mapped_column(String(2000))
    authorization_endpoint: Mapped[str | None] = mapped_column(String(2000))
    token_endpoint: Mapped[str | None] = mapped_column(String(2000))
    revocation_endpoint: Mapped[str | None] = mapped_column(String(2000))
    scope: Mapped[str | None] = mapped_column(Text)
    tenant: Mapped[str | None] = mapped_column(String(200))
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(40))

    # Basic and API key settings.
    username: Mapped[str | None] = mapped_column(String(500))
    api_key_name: Mapped[str | None] = mapped_column(String(200))
    api_key_location: Mapped[str | None] = mapped_column(String(10))

    # From the provider's metadata (RFC 9207 section 3): when true, a callback
    # without `iss` is refused.
    requires_iss: Mapped[bool] = mapped_column(Boolean, default=False)

    # Every secret of the account, as one encrypted JSON object.
    secrets_enc: Mapped[str | None] = mapped_column(Text)

    # Bumped whenever the settings that identify the grant change; an
    # authorization started under an older generation is refused.
    generation: Mapped[int] = mapped_column(Integer, default=1)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    token_set: Mapped[TokenSet | None] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class TokenSet(Base):
    """The tokens of one OAuth account; one row per account, locked to refresh."""

    __tablename__ = "token_sets"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    token_type: Mapped[str] = mapped_column(String(40), default="Bearer")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(Text)
    obtained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    authorized_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Each write of a new access token bumps the version, so that a caller can
    # tell whether the token it used has been replaced meanwhile.
    version: Mapped[int] = mapped_column(Integer, default=1)
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_refresh_error: Mapped[str | None] = mapped_column(Text)
    last_refresh_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Transient failures in a row, and when the refresher may try again.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    authorized_by: Mapped[User | None] = relationship(lazy="selectin")


class Authorization(Base):
    """One pending run of the authorization-code flow (the Generate button).

    The state itself is not stored, only its SHA-256 digest: the callback
    finds the row by digest, so a leaked table cannot be used to forge one.
    """

    __tablename__ = "authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="CASCADE"), index=True
    )
    account_generation: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    code_verifier_enc: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str | None] = mapped_column(String(2000))
    authorization_endpoint: Mapped[str] = mapped_column(String(2000))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_authorizations_expires_at", "expires_at"),)


class WebhookEndpoint(Base):
    """A URL that receives signed notifications about an application's accounts."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    # The HMAC-SHA256 signing secret, encrypted.
    secret_enc: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """An event to tell admins about, written in the same transaction as the
    change it reports (a transactional outbox), so that none is lost."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="SET NULL")
    )
    event: Mapped[str] = mapped_column(String(60))
    # The JSON document sent to webhooks; never holds a secret.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationDelivery(Base):
    """One notification to one webhook endpoint or one e-mail address."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))  # webhook | email
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which process holds it while sending, and until when (see delivery).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebServiceProvider(Base):
    """A remote system; its methods' URLs are relative to its base URL, so that
    moving it (a sandbox to production) is one edit."""

    __tablename__ = "web_service_providers"
    __table_args__ = (UniqueConstraint("application_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    base_url: Mapped[str] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class WebServiceMethod(Base):
    """A configured HTTP request. `query` and `headers` are JSON lists of
    {name, value, secret}; the values of secret entries are not there but in
    `secrets_enc`, encrypted."""

    __tablename__ = "web_service_methods"
    __table_args__ = (UniqueConstraint("application_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("web_service_providers.id", ondelete="RESTRICT"), index=True
    )
    # A method keeps its account; deleting an account in use is refused.
    auth_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    http_method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, default="[]")
    headers: Mapped[str] = mapped_column(Text, default="[]")
    body: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(10), default="none")
    timeout_seconds: Mapped[float] = mapped_column(default=30.0)
    # None: retry when the HTTP method is idempotent (RFC 9110 section 9.2.2).
    retry_enabled: Mapped[bool | None] = mapped_column(Boolean)
    max_retries: Mapped[int] = mapped_column(Integer, default=2)
    sample_parameters: Mapped[str] = mapped_column(Text, default="{}")
    secrets_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class WebServiceLog(Base):
    """One call of a method: what was sent and what came back, redacted.

    Names are copied beside the ids so that an entry still reads after its
    method or account is deleted. Entries are listed newest first by id
    (keyset pagination); the indexes serve the filters an admin uses.
    """

    __tablename__ = "web_service_logs"
    __table_args__ = (
        Index("ix_web_service_logs_app_id", "application_id", "id"),
        Index(
            "ix_web_service_logs_app_method",
            "application_id",
            "method_id",
            "success",
            "id",
        ),
        Index("ix_web_service_logs_app_account", "application_id", "account_id", "id"),
        Index("ix_web_service_logs_app_success", "application_id", "success", "id"),
        Index("ix_web_service_logs_app_run", "application_id", "run_id", "id"),
        Index("ix_web_service_logs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(20))  # test | workflow | api
    method_id: Mapped[int | None] = mapped_column(
        ForeignKey("web_service_methods.id", ondelete="SET NULL")
    )
    method_name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="SET NULL")
    )
    account_name: Mapped[str | None] = mapped_column(String(200))
    workflow_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    step_key: Mapped[str | None] = mapped_column(String(200))
    request_method: Mapped[str] = mapped_column(String(10))
    request_url: Mapped[str] = mapped_column(Text)
    request_headers: Mapped[str] = mapped_column(Text, default="{}")
    request_body: Mapped[str | None] = mapped_column(Text)
    request_body_size: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[str] = mapped_column(Text, default="{}")
    response_body: Mapped[str | None] = mapped_column(Text)
    response_body_size: Mapped[int] = mapped_column(Integer, default=0)
    response_body_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_ms: Mapped[float] = mapped_column(default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    success: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    token_refreshed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Filled by SQLAlchemy with each row's place in a multi-row INSERT, so
    # that a batch of entries is one statement on SQLite too (migration 0004).
    insert_sentinel: Mapped[int | None] = orm_insert_sentinel("insert_sentinel")


# Every column that holds ciphertext, for key rotation.
ENCRYPTED_COLUMNS: list[tuple[type[Base], str, str]] = [
    (AuthAccount, "id", "secrets_enc"),
    (TokenSet, "account_id", "access_token_enc"),
    (TokenSet, "account_id", "refresh_token_enc"),
    (Authorization, "id", "code_verifier_enc"),
    (WebhookEndpoint, "id", "secret_enc"),
    (WebServiceMethod, "id", "secrets_enc"),
]
