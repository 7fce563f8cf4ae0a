"""Talking to a token endpoint: the code exchange (and, in the token keeper,
refreshes), through Authlib's OAuth 2.0 client.

Authlib encodes the requests and the client authentication; this module turns
its outcomes into Authwire's errors, so that callers see one of:

- a `TokenResponse`;
- `TokenEndpointError`: the server answered with an OAuth error such as
  `invalid_grant` (RFC 6749 section 5.2), or a 4xx without one;
- `TokenEndpointUnavailableError`: a 5xx, a body that is not a JSON object, a
  timeout or a network failure, which may pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.httpx_client import OAuthError as AuthlibOAuthError

from authwire.db.types import utcnow
from authwire.errors import TokenEndpointError, TokenEndpointUnavailableError
from authwire.secrets import Secret

log = logging.getLogger(__name__)

# Statuses that do not mean the grant itself was refused (RFC 9110; 429 is
# RFC 6585, 425 RFC 8470): retrying later may work.
TRANSIENT_4XX = frozenset({408, 409, 423, 425, 429})


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: Secret | None
    auth_method: str

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(client_id={self.client_id!r}, "
            f"auth_method={self.auth_method!r})"
        )


@dataclass(frozen=True)
class TokenResponse:
    access_token: Secret
    refresh_token: Secret | None
    token_type: str
    expires_at: datetime
    expires_in_given: bool
    scope: str | None


class TokenEndpointClient:
    """Requests to token endpoints, with one timeout and one transport.

    `transport` exists so that tests can put a failing endpoint in the way
    (HTML answers, hangs); production uses the default network transport.
    """

    def __init__(
        self,
        *,
        timeout: float,
        default_lifetime: timedelta,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.default_lifetime = default_lifetime
        self._transport = transport

    def _client(self, credentials: ClientCredentials) -> AsyncOAuth2Client:
        secret = (
            credentials.client_secret.reveal() if credentials.client_secret else None
        )
        method = credentials.auth_method if secret else "none"
        kwargs: dict[str, Any] = {"timeout": self.timeout}
        if self._transport is not None:
            kwargs["transport"] = self._transport
        return AsyncOAuth2Client(
            client_id=credentials.client_id,
            client_secret=secret,
            token_endpoint_auth_method=method,
            **kwargs,
        )

    async def exchange_code(
        self,
        token_endpoint: str,
        credentials: ClientCredentials,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: Secret,
        requested_scope: str | None,
    ) -> TokenResponse:
        async with self._client(credentials) as client:
            raw = await self._call(
                token_endpoint,
                "exchange the authorization code",
                client.fetch_token(
                    token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=redirect_uri,
                    code_verifier=code_verifier.reveal(),
                ),
            )
        return self._parse(raw, requested_scope)

    async def _call(
        self, endpoint: str, purpose: str, request: Any
    ) -> Mapping[str, Any]:
        try:
            result: Mapping[str, Any] = await request
            return result
        except AuthlibOAuthError as exc:
            error = str(exc.error or "error")
            description = exc.description or None
            text = f"{error}: {description}" if description else error
            raise TokenEndpointError(
                f"The token endpoint refused to {purpose}: {text}.{_hint(error)}",
                error=error,
                description=description,
            ) from exc
        except httpx2.TimeoutException as exc:
            raise TokenEndpointUnavailableError(
                f"The token endpoint {endpoint} did not answer within "
                f"{self.timeout:g} seconds, so Authwire could not {purpose}. "
                "Try again; if it persists, check the provider's status."
            ) from exc
        except httpx2.HTTPStatusError as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in TRANSIENT_4XX:
                raise TokenEndpointError(
                    f"The token endpoint answered HTTP {status} without an OAuth "
                    f"error, so Authwire could not {purpose}. Check the token "
                    "endpoint URL and the client credentials.",
                    error=f"http_{status}",
                    description=None,
                ) from exc
            raise TokenEndpointUnavailableError(
                f"The token endpoint answered HTTP {status}, so Authwire could "
                f"not {purpose}. This is usually temporary; try again later."
            ) from exc
        except httpx2.RequestError as exc:
            raise TokenEndpointUnavailableError(
                f"Authwire could not reach the token endpoint {endpoint} "
                f"({type(exc).__name__}), so it could not {purpose}. Check the "
                "URL and that the provider is reachable from this server."
            ) from exc
        except ValueError as exc:
            raise TokenEndpointUnavailableError(
                f"The token endpoint answered with something that is not a JSON "
                f"token response (an HTML page?), so Authwire could not {purpose}. "
                "Check that the token endpoint URL points at the token endpoint, "
                "not at a login page."
            ) from exc

    def _parse(
        self, raw: Mapping[str, Any], requested_scope: str | None
    ) -> TokenResponse:
        access_token = raw.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise TokenEndpointUnavailableError(
                "The token endpoint answered without an access_token, as if the "
                "request had not been understood. Check the token endpoint URL."
            )
        token_type = str(raw.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise TokenEndpointError(
                f"The token endpoint issued a {token_type!r} token; Authwire can "
                "use only Bearer tokens (RFC 6750).",
                error="unsupported_token_type",
                description=None,
            )
        now = utcnow()
        lifetime = _expires_in(raw.get("expires_in"))
        expires_at = now + (lifetime if lifetime is not None else self.default_lifetime)
        refresh = raw.get("refresh_token")
        scope = raw.get("scope")
        if isinstance(scope, list):
            scope = " ".join(str(item) for item in scope)
        return TokenResponse(
            access_token=Secret(access_token),
            refresh_token=Secret(refresh)
            if isinstance(refresh, str) and refresh
            else None,
            token_type="Bearer",
            expires_at=expires_at,
            expires_in_given=lifetime is not None,
            # RFC 6749 section 5.1: an omitted scope is the scope requested.
            scope=str(scope) if scope else requested_scope,
        )


def _expires_in(value: Any) -> timedelta | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return timedelta(seconds=max(seconds, 0))


def _hint(error: str) -> str:
    hints = {
        "invalid_client": " Check the client ID, the client secret and the "
        "client authentication method (client_secret_basic or client_secret_post).",
        "unauthorized_client": " The provider does not allow this client to use "
        "this grant; check the application's registration at the provider.",
        "invalid_grant": " The code or refresh token is invalid, expired, revoked "
        "or was issued to another client or redirect URI; generate new tokens.",
        "invalid_scope": " Check the account's scope against the scopes the "
        "provider offers.",
    }
    return hints.get(error, "")
