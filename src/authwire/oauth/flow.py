"""Starting an authorization (Generate) and completing it (the callback).

One callback URL serves every account, so the state is what ties a callback
to its account: a 256-bit random value, stored only as a digest, single use,
expiring after ten minutes, bound to the account's current settings and to
the issuer that was asked. A callback that names another issuer (RFC 9207)
is refused, which catches a mix-up between two providers.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountKind
from authwire.accounts.presets import effective_scope, endpoints_for
from authwire.accounts.service import read_secrets
from authwire.db.models import AuthAccount, Authorization, User
from authwire.db.types import utcnow
from authwire.errors import (
    AuthorizationDeniedError,
    AuthorizationStateError,
    InvalidInputError,
    IssuerMismatchError,
    MissingRefreshTokenError,
    OAuthError,
)
from authwire.oauth.authorization_url import build_authorization_url
from authwire.oauth.token_endpoint import ClientCredentials
from authwire.runtime import Runtime
from authwire.secrets import Secret
from authwire.tokens.store import store_new_grant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedAuthorization:
    url: str
    expires_at: datetime


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def start_authorization(
    session: AsyncSession, runtime: Runtime, account: AuthAccount, user: User
) -> StartedAuthorization:
    kind = AccountKind(account.kind)
    if not kind.uses_authorization_code:
        raise InvalidInputError.for_field(
            "kind",
            f"{kind.value} accounts have no authorization step; only OAuth 2.0 "
            "accounts are generated (by consent, or for client credentials by "
            "a first token request).",
        )
    endpoints = endpoints_for(account)
    assert endpoints.authorization_endpoint is not None  # validated on save
    assert account.client_id is not None

    settings = runtime.settings
    state = secrets.token_urlsafe(32)  # 256 bits
    verifier = secrets.token_urlsafe(64)  # 86 characters, RFC 7636 section 4.1
    now = utcnow()
    expires_at = now + timedelta(seconds=settings.authorization_ttl_seconds)
    session.add(
        Authorization(
            state_digest=_digest(state),
            account_id=account.id,
            account_generation=account.generation,
            user_id=user.id,
            code_verifier_enc=runtime.keyring.encrypt(verifier),
            issuer=endpoints.issuer,
            authorization_endpoint=endpoints.authorization_endpoint,
            redirect_uri=settings.redirect_uri,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()

    url = build_authorization_url(
        endpoints.authorization_endpoint,
        flow={
            "response_type": "code",
            "client_id": account.client_id,
            "redirect_uri": settings.redirect_uri,
            "scope": effective_scope(kind, account.scope),
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        defaults={
            # Ask for a refresh token: Google returns one only with offline
            # access, and only on a consent screen it has just shown.
            "access_type": "offline",
            "prompt": "consent",
            "origin": settings.javascript_origin,
        },
    )
    log.info(
        "authorization started for auth account %s by user %s", account.id, user.id
    )
    return StartedAuthorization(url=url, expires_at=expires_at)


async def complete_authorization(
    session: AsyncSession, runtime: Runtime, params: Mapping[str, str]
) -> AuthAccount:
    """Handle the provider's redirect back; on success the account is authorized.

    On failure an `OAuthError` says what happened and the account is left as
    it was. The state is spent either way: a callback is never replayed.
    """
    state = params.get("state")
    if not state:
        raise AuthorizationStateError(
            "The provider's answer carries no state, so Authwire cannot tell "
            "which auth account it is for. Start again with Generate."
        )
    record = await _claim(session, state)
    account = await session.get(AuthAccount, record.account_id)
    assert account is not None  # the row cascades with its account

    try:
        return await _complete(session, runtime, record, account, params)
    except OAuthError as exc:
        runtime.metrics.authorizations.labels(outcome=exc.code).inc()
        log.warning(
            "authorization refused for auth account %s: %s", account.id, exc.code
        )
        raise


async def _claim(session: AsyncSession, state: str) -> Authorization:
    record = await session.scalar(
        select(Authorization).where(Authorization.state_digest == _digest(state))
    )
    if record is None:
        raise AuthorizationStateError(
            "This authorization is unknown: the link may be from another "
            "Authwire, or the auth account was deleted. Start again with Generate."
        )
    if record.used_at is not None:
        raise AuthorizationStateError(
            "This authorization has already been used. Each Generate works "
            "once; click Generate again to authorize anew."
        )
    now = utcnow()
    if record.expires_at <= now:
        raise AuthorizationStateError(
            "This authorization expired: it must be completed within "
            f"{int((record.expires_at - record.created_at).total_seconds() // 60)} "
            "minutes of clicking Generate. Click Generate again."
        )
    # Spend the state before anything else, in its own transaction, so that
    # a second delivery of the same callback (a reload, a replay) is refused
    # even while the first is still exchanging its code.
    claimed = await session.execute(
        update(Authorization)
        .where(Authorization.id == record.id, Authorization.used_at.is_(None))
        .values(used_at=now)
    )
    await session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise AuthorizationStateError(
            "This authorization has already been used. Click Generate again."
        )
    return record


async def _complete(
    session: AsyncSession,
    runtime: Runtime,
    record: Authorization,
    account: AuthAccount,
    params: Mapping[str, str],
) -> AuthAccount:
    if "error" in params:
        raise _denied(params)
    _check_issuer(record, params.get("iss"), required=account.requires_iss)
    if record.account_generation != account.generation:
        raise AuthorizationStateError(
            f"The auth account {account.name!r} was changed after Generate was "
            "clicked (client ID, endpoints or scope), so this grant is for its "
            "old settings. Click Generate again."
        )
    code = params.get("code")
    if not code:
        raise AuthorizationStateError(
            "The provider's answer has neither a code nor an error. Click "
            "Generate again; if it repeats, the provider is not following "
            "OAuth 2.0 (RFC 6749 section 4.1.2)."
        )

    kind = AccountKind(account.kind)
    endpoints = endpoints_for(account)
    assert endpoints.token_endpoint is not None and account.client_id is not None
    secret = read_secrets(runtime.keyring, account).get("client_secret")
    requested_scope = effective_scope(kind, account.scope) or None
    response = await runtime.token_endpoint.exchange_code(
        endpoints.token_endpoint,
        ClientCredentials(
            account.client_id,
            secret,
            account.token_endpoint_auth_method or "client_secret_basic",
        ),
        code=code,
        redirect_uri=record.redirect_uri,
        code_verifier=Secret(runtime.keyring.decrypt(record.code_verifier_enc)),
        requested_scope=requested_scope,
    )
    runtime.metrics.token_requests.labels(
        grant_type="authorization_code", outcome="success"
    ).inc()
    if response.refresh_token is None:
        raise MissingRefreshTokenError(_missing_refresh_token_message(kind))

    await store_new_grant(
        session, account, response, runtime.keyring, authorized_by_id=record.user_id
    )
    await session.commit()
    runtime.metrics.authorizations.labels(outcome="authorized").inc()
    log.info(
        "auth account %s authorized by user %s; access token expires at %s",
        account.id,
        record.user_id,
        response.expires_at.isoformat(timespec="seconds"),
    )
    return account


def _denied(params: Mapping[str, str]) -> AuthorizationDeniedError:
    error = params.get("error", "")
    description = params.get("error_description", "").strip()
    detail = f"{error} ({description})" if description else error
    if error == "access_denied":
        message = (
            "Access was not granted: the provider answered access_denied"
            + (f" ({description})" if description else "")
            + ". Nothing was changed. To try again, click Generate and choose "
            "Allow on the provider's consent page."
        )
    else:
        message = (
            f"The provider refused the authorization: {detail}. Nothing was "
            "changed. Check the account's client ID, scope and the redirect URI "
            "registered at the provider, then click Generate again."
        )
    return AuthorizationDeniedError(message, code=f"provider_{error or 'error'}"[:60])


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _check_issuer(record: Authorization, iss: str | None, *, required: bool) -> None:
    """RFC 9207: when the provider says who it is, it must be who was asked.

    With a known issuer identifier the match is exact (section 2.4). Where the
    account has none (a generic account entered by endpoints, not by issuer),
    the issuer must at least be on the origin of the authorization endpoint
    the browser was sent to.
    """
    if iss is None:
        if required:
            raise IssuerMismatchError(
                "The answer carries no iss parameter, though this provider's "
                "metadata promises one (RFC 9207), so its origin cannot be "
                "checked. Click Generate again; if it repeats, check the issuer "
                "URL of the account."
            )
        return
    if record.issuer is not None:
        matches = iss == record.issuer
    else:
        matches = _origin(iss) == _origin(record.authorization_endpoint)
    if not matches:
        raise IssuerMismatchError(
            f"The answer came from the authorization server {iss!r}, but this "
            "authorization was sent to "
            f"{record.issuer or record.authorization_endpoint!r}. It was refused "
            "to prevent a mix-up between providers; click Generate again."
        )


def _missing_refresh_token_message(kind: AccountKind) -> str:
    base = (
        "The provider issued an access token but no refresh token, so Authwire "
        "could not renew access once the token expires; the tokens were not "
        "saved. "
    )
    if kind is AccountKind.OAUTH2_GOOGLE:
        return base + (
            "Google returns a refresh token only for offline access on a fresh "
            "consent: remove any access_type or prompt parameter you wrote into "
            "the authorization endpoint, so that Authwire's access_type=offline "
            "and prompt=consent apply, then click Generate again."
        )
    if kind is AccountKind.OAUTH2_MICROSOFT:
        return base + (
            "Microsoft returns one only when offline_access is granted: check "
            "that the app registration allows it, then click Generate again."
        )
    return base + (
        "Enable the refresh token grant for this client at the provider (some "
        "servers also need a scope such as offline_access), then click "
        "Generate again."
    )
