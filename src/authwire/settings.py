"""Settings, read from `AUTHWIRE_*` environment variables and command-line flags.

Every setting has a default that suits the embedded installation: SQLite and a
key file in the data directory, listening on loopback. A production
installation sets at least `AUTHWIRE_BASE_URL` (the address users and OAuth
providers reach) and, for scale-out, `AUTHWIRE_DATABASE_URL`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTHWIRE_", extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8080",
        description="The external address of this service, without a trailing "
        "slash; the OAuth redirect URI is {base_url}/oauth/callback.",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None,
        description="sqlite:///path or postgresql://user@host/db; by default a "
        "SQLite file in the data directory.",
    )
    secret_keys: SecretStr | None = Field(
        None,
        description="Comma-separated Fernet keys, newest first. When unset, a "
        "key file in the data directory is used (and created on first start).",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="Database connections each process keeps (and as many "
        "again at peaks). On PostgreSQL, mind max_connections across processes.",
    )
    auto_migrate: bool | None = Field(
        None,
        description="Apply database migrations at start. Defaults to on for "
        "SQLite and off for PostgreSQL, where `authwire migrate` runs them once "
        "for all processes.",
    )
    allow_http_endpoints: bool = Field(
        False,
        description="Accept plain-http OAuth endpoints on hosts other than "
        "loopback. Tokens and secrets would cross the network unencrypted.",
    )
    authorization_ttl_seconds: int = Field(600, ge=30, le=3600)
    token_request_timeout_seconds: float = Field(15.0, gt=0, le=120)
    default_token_lifetime_seconds: int = Field(
        3600,
        ge=60,
        description="Lifetime assumed for an access token whose response "
        "carries no expires_in, so that it is still refreshed in time.",
    )
    refresh_skew_seconds: int = Field(
        60, ge=0, description="Refresh an access token this long before it expires."
    )
    refresher_enabled: bool = Field(
        True, description="Run the background refresher in this process."
    )
    refresher_interval_seconds: float = Field(15.0, gt=0, le=3600)
    refresh_ahead_seconds: int = Field(
        300,
        ge=0,
        description="The refresher renews tokens this long before they expire, "
        "so that calls rarely wait for a refresh.",
    )
    refresher_concurrency: int = Field(4, ge=1, le=100)
    idle_refresh_hours: float = Field(
        24,
        gt=0,
        description="Refresh every account at least this often, so that "
        "providers do not expire unused refresh tokens.",
    )
    refresh_backoff_max_seconds: int = Field(3600, ge=1)

    smtp_host: str | None = Field(None, description="Send e-mail through this server.")
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "authwire@localhost"
    smtp_starttls: bool = Field(True, description="Upgrade with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Connect with TLS from the start.")
    smtp_timeout_seconds: float = Field(10.0, gt=0)

    webhook_timeout_seconds: float = Field(10.0, gt=0)
    notification_max_attempts: int = Field(
        12, ge=1, description="Give a delivery up after this many failed attempts."
    )
    notification_interval_seconds: float = Field(5.0, gt=0)

    call_response_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Stop reading a web service's answer past this size; the "
        "call fails rather than fill the memory.",
    )
    log_body_max_bytes: int = Field(
        64 * 1024,
        ge=0,
        description="Bodies in the web service logs are cut at this size; the "
        "original size is recorded beside them.",
    )
    call_retry_max_wait_seconds: float = Field(
        30.0,
        ge=0,
        description="The longest Retry-After that a retried call waits for.",
    )
    egress_deny: str = Field(
        "",
        description="Comma-separated hosts and networks (CIDR) that web service "
        "methods may not call, besides the cloud metadata addresses.",
    )
    egress_allow_metadata: bool = Field(
        False,
        description="Allow calls to cloud metadata addresses (169.254.169.254 "
        "and the like), which are refused by default.",
    )
    call_max_connections: int = Field(100, ge=1)

    log_retention_days: int = Field(
        30,
        ge=0,
        description="Delete web service log entries older than this many days; "
        "0 keeps them forever.",
    )
    log_retention_interval_seconds: float = Field(
        3600,
        gt=0,
        description="How often each serving process deletes the web service "
        "log entries past retention.",
    )

    gc_threshold: int = Field(
        10_000,
        ge=0,
        description="Allocations between two collections of the youngest "
        "generation in a serving process (authwire.gc_tuning); 0 leaves "
        "Python's default.",
    )

    log_level: str = "INFO"

    @field_validator("base_url")
    @classmethod
    def _strip_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "AUTHWIRE_BASE_URL must start with http:// or https://, "
                f"for example https://authwire.example.edu (got {value!r})"
            )
        return value

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/oauth/callback"

    @property
    def javascript_origin(self) -> str:
        return self.base_url

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'authwire.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.is_sqlite
