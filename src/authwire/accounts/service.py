"""Creating, changing and reading auth accounts, with DESIGN.md's rules:

- secrets are encrypted together in `secrets_enc` and never read back out;
- changing the client ID, an endpoint, the issuer or the tenant clears the
  tokens (they belong to another grant now) and the account is no longer
  active; changing the scope asks for a new authorization;
- only an authorized account can be made active.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountKind, AccountStatus
from authwire.accounts.presets import (
    default_client_auth_method,
    effective_scope,
    endpoints_for,
)
from authwire.accounts.schemas import (
    SECRET_FIELDS,
    AuthAccountCreate,
    AuthAccountOut,
    AuthAccountUpdate,
    TokenSetOut,
)
from authwire.accounts.validation import (
    KIND_FIELDS,
    URL_EXAMPLES,
    account_problems,
    endpoint_problem,
    normalize_scope,
)
from authwire.db.models import AuthAccount, WebServiceMethod
from authwire.db.owned import ensure_unique_name, get_owned, list_owned
from authwire.db.types import utcnow
from authwire.errors import ConflictError, InvalidInputError
from authwire.oauth.discovery import DiscoveryError, ProviderMetadata
from authwire.secrets import Keyring, Secret
from authwire.settings import Settings

log = logging.getLogger(__name__)

# Changing one of these means the tokens were granted to something else.
IDENTITY_FIELDS = (
    "client_id",
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "tenant",
)

_PLAIN_FIELDS = tuple(sorted(KIND_FIELDS - set(SECRET_FIELDS)))


def read_secrets(keyring: Keyring, account: AuthAccount) -> dict[str, Secret]:
    if not account.secrets_enc:
        return {}
    values: dict[str, str] = json.loads(keyring.decrypt(account.secrets_enc))
    return {name: Secret(value) for name, value in values.items()}


def _write_secrets(
    keyring: Keyring, account: AuthAccount, values: dict[str, str]
) -> None:
    account.secrets_enc = keyring.encrypt(json.dumps(values)) if values else None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _settings_of(account: AuthAccount) -> dict[str, Any]:
    return {field: getattr(account, field) for field in _PLAIN_FIELDS}


def _check(
    kind: AccountKind,
    plain: dict[str, Any],
    secrets: dict[str, str],
    settings: Settings,
) -> None:
    values = {**plain, **{name: True for name in secrets}}
    problems = account_problems(kind, values, allow_http=settings.allow_http_endpoints)
    if problems:
        raise InvalidInputError.about("auth account", problems)


def _apply_scope(plain: dict[str, Any]) -> None:
    if plain.get("scope"):
        plain["scope"] = normalize_scope(plain["scope"])


async def get_account(
    session: AsyncSession, application_id: int, account_id: int
) -> AuthAccount:
    return await get_owned(
        session, AuthAccount, application_id, account_id, "auth account"
    )


async def list_accounts(
    session: AsyncSession, application_id: int
) -> list[AuthAccount]:
    return await list_owned(session, AuthAccount, application_id, AuthAccount.name)


Discoverer = Callable[[str], Awaitable[ProviderMetadata]]

_DISCOVERABLE = {
    AccountKind.OAUTH2_GENERIC: ("authorization_endpoint", "token_endpoint"),
    AccountKind.OAUTH2_CLIENT_CREDENTIALS: ("token_endpoint",),
}


async def _discover_endpoints(
    kind: AccountKind,
    plain: dict[str, Any],
    discoverer: Discoverer | None,
    settings: Settings,
    *,
    replace: bool,
) -> bool | None:
    """Fill the endpoints from the issuer's metadata, when they are missing
    (or, with `replace`, always). Returns whether the provider promises the
    RFC 9207 `iss` parameter, or None when nothing was discovered."""
    issuer = plain.get("issuer")
    needed = _DISCOVERABLE.get(kind, ())
    if not issuer or not needed or discoverer is None:
        return None
    if not replace and all(plain.get(field) for field in needed):
        return None
    problem = endpoint_problem(
        issuer,
        allow_http=settings.allow_http_endpoints,
        example=URL_EXAMPLES["issuer"],
    )
    if problem:
        raise InvalidInputError.about("auth account", {"issuer": problem})
    try:
        metadata = await discoverer(issuer)
    except DiscoveryError as exc:
        raise InvalidInputError.for_field(
            "issuer", f"its metadata could not be used: {exc}"
        ) from exc
    for field in (*needed, "revocation_endpoint"):
        if replace or not plain.get(field):
            plain[field] = getattr(metadata, field)
    return metadata.iss_parameter_supported


async def create_account(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    application_id: int,
    data: AuthAccountCreate,
    *,
    discoverer: Discoverer | None = None,
) -> AuthAccount:
    """Create an account; `discoverer` reads endpoints from an issuer URL."""
    kind = data.kind
    given = data.model_dump(exclude_unset=True)
    plain = {field: _clean(given.get(field)) for field in _PLAIN_FIELDS}
    _apply_scope(plain)
    requires_iss = await _discover_endpoints(
        kind, plain, discoverer, settings, replace=False
    )
    secrets = {
        name: given[name] for name in SECRET_FIELDS if given.get(name) not in (None, "")
    }
    if kind.is_oauth and plain.get("token_endpoint_auth_method") is None:
        plain["token_endpoint_auth_method"] = default_client_auth_method(kind)
    if kind is AccountKind.API_KEY and plain.get("api_key_location") is None:
        plain["api_key_location"] = "header"
    _check(kind, plain, secrets, settings)

    # Static credentials are usable as soon as they are complete; OAuth
    # accounts wait for Generate (or, for client credentials, a first token).
    status = AccountStatus.NOT_AUTHORIZED if kind.is_oauth else AccountStatus.AUTHORIZED
    if data.active and status is not AccountStatus.AUTHORIZED:
        raise InvalidInputError.for_field("active", _activation_problem())

    name = data.name.strip()
    await ensure_unique_name(session, AuthAccount, application_id, name, "auth account")
    account = AuthAccount(
        application_id=application_id,
        name=name,
        description=(data.description or "").strip(),
        kind=kind.value,
        status=status.value,
        active=bool(data.active) if data.active is not None else not kind.is_oauth,
        status_changed_at=utcnow(),
        requires_iss=bool(requires_iss),
        **plain,
    )
    _write_secrets(keyring, account, secrets)
    session.add(account)
    await session.flush()
    log.info(
        "auth account %s (%s) created in application %s",
        account.id,
        kind.value,
        application_id,
    )
    return account


def _activation_problem() -> str:
    return (
        "can be turned on only when the account is authorized: generate the "
        "tokens first (the Generate button, or POST .../authorization), then "
        "make the account active."
    )


async def update_account(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    account: AuthAccount,
    data: AuthAccountUpdate,
    *,
    discoverer: Discoverer | None = None,
) -> AuthAccount:
    kind = AccountKind(account.kind)
    given = data.model_dump(exclude_unset=True)
    if given.get("kind") not in (None, kind):
        raise InvalidInputError.for_field(
            "kind",
            f"cannot be changed from {kind.value}; create a new auth account "
            "of the other kind instead.",
        )

    before = _settings_of(account)
    plain = dict(before)
    for field in _PLAIN_FIELDS:
        if field in given:
            plain[field] = _clean(given[field])
    _apply_scope(plain)
    # A new issuer brings its own endpoints, unless the same change names them.
    new_issuer = plain["issuer"] != before["issuer"] and not any(
        field in given for field in ("authorization_endpoint", "token_endpoint")
    )
    requires_iss = await _discover_endpoints(
        kind, plain, discoverer, settings, replace=new_issuer
    )
    if requires_iss is not None:
        account.requires_iss = requires_iss
    secrets = {name: s.reveal() for name, s in read_secrets(keyring, account).items()}
    for name in SECRET_FIELDS:
        if given.get(name) not in (None, ""):
            secrets[name] = given[name]
    _check(kind, plain, secrets, settings)

    if "name" in given and given["name"] is not None:
        name = given["name"].strip()
        await ensure_unique_name(
            session,
            AuthAccount,
            account.application_id,
            name,
            "auth account",
            own_id=account.id,
        )
        account.name = name
    if "description" in given:
        account.description = (given["description"] or "").strip()

    changed = {field for field in _PLAIN_FIELDS if plain[field] != before[field]}
    for field in changed:
        setattr(account, field, plain[field])
    _write_secrets(keyring, account, secrets)

    identity_changed = changed.intersection(IDENTITY_FIELDS)
    if kind.is_oauth and identity_changed:
        clear_tokens(account)
        log.info(
            "auth account %s: %s changed, tokens cleared",
            account.id,
            ", ".join(sorted(identity_changed)),
        )
    elif kind.is_oauth and "scope" in changed and account.token_set is not None:
        account.generation += 1
        set_status(
            account,
            AccountStatus.NEEDS_REAUTHORIZATION,
            f"The scope changed from {before['scope'] or '(none)'!r} to "
            f"{plain['scope'] or '(none)'!r}; generate new tokens so that the "
            "provider grants it.",
        )

    if given.get("active") is not None:
        wanted = bool(given["active"])
        if wanted and not account.active and account.status != AccountStatus.AUTHORIZED:
            raise InvalidInputError.for_field("active", _activation_problem())
        account.active = wanted

    await session.flush()
    return account


async def ensure_unused(session: AsyncSession, account: AuthAccount) -> None:
    """Refuse to delete an account that methods still authenticate with."""
    names = list(
        await session.scalars(
            select(WebServiceMethod.name)
            .where(WebServiceMethod.auth_account_id == account.id)
            .order_by(WebServiceMethod.name)
        )
    )
    if names:
        raise ConflictError(
            f"The auth account {account.name!r} is used by the web service "
            f"methods {', '.join(repr(n) for n in names)}; choose another "
            "account for them (or none) first."
        )


def set_status(account: AuthAccount, status: AccountStatus, reason: str | None) -> None:
    account.status = status.value
    account.status_reason = reason
    account.status_changed_at = utcnow()


def clear_tokens(account: AuthAccount) -> None:
    """Forget the grant: tokens go, pending authorizations become stale."""
    account.token_set = None
    account.generation += 1
    account.active = False
    set_status(account, AccountStatus.NOT_AUTHORIZED, None)


def account_out(
    account: AuthAccount, settings: Settings, keyring: Keyring
) -> AuthAccountOut:
    kind = AccountKind(account.kind)
    endpoints = endpoints_for(account) if kind.is_oauth else None
    token = account.token_set
    secrets_held = set(read_secrets(keyring, account))
    return AuthAccountOut(
        id=account.id,
        application_id=account.application_id,
        name=account.name,
        description=account.description,
        kind=kind,
        active=account.active,
        status=AccountStatus(account.status),
        status_reason=account.status_reason,
        status_changed_at=account.status_changed_at,
        client_id=account.client_id,
        issuer=endpoints.issuer if endpoints else None,
        authorization_endpoint=endpoints.authorization_endpoint if endpoints else None,
        token_endpoint=endpoints.token_endpoint if endpoints else None,
        revocation_endpoint=endpoints.revocation_endpoint if endpoints else None,
        scope=account.scope,
        effective_scope=effective_scope(kind, account.scope) if kind.is_oauth else None,
        tenant=account.tenant,
        token_endpoint_auth_method=account.token_endpoint_auth_method,
        username=account.username,
        api_key_name=account.api_key_name,
        api_key_location=account.api_key_location,
        has_client_secret="client_secret" in secrets_held,
        has_password="password" in secrets_held,
        has_api_key="api_key" in secrets_held,
        has_bearer_token="bearer_token" in secrets_held,
        redirect_uri=settings.redirect_uri if kind.uses_authorization_code else None,
        javascript_origin=(
            settings.javascript_origin if kind.uses_authorization_code else None
        ),
        token=None
        if token is None
        else TokenSetOut(
            token_type=token.token_type,
            expires_at=token.expires_at,
            scope=token.scope,
            has_access_token=True,
            has_refresh_token=token.refresh_token_enc is not None,
            obtained_at=token.obtained_at,
            authorized_by=token.authorized_by.username if token.authorized_by else None,
            authorized_at=token.authorized_at,
            refresh_count=token.refresh_count,
            last_refresh_at=token.last_refresh_at,
            last_refresh_error=token.last_refresh_error,
            last_refresh_error_at=token.last_refresh_error_at,
            consecutive_failures=token.consecutive_failures,
            next_attempt_at=token.next_attempt_at,
        ),
        created_at=account.created_at,
        updated_at=account.updated_at,
    )
