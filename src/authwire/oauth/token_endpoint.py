"""Talking to a token endpoint: the code exchange, refreshes, the client
credentials grant and revocation (RFC 7009), through Authlib's OAuth 2.0 client.

Authlib encodes the requests and the client authentication; this module turns
its outcomes into Authwire's errors, so that callers see one of:

- a `TokenResponse`;
- `TokenEndpointError`: the server refused: an OAuth error such as
  `invalid_grant` (RFC 6749 section 5.2), or another 4xx answer. Retrying the
  same request will not help; for a refresh, the grant is gone;
- `TokenEndpointUnavailableError`: a 5xx, 408, 409, 423, 425 or 429, a body
  that is not a JSON object, a timeout or a network failure, which may pass.
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

# OAuth error codes that say "not now" rather than "no".
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})


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
    Both may be changed on a running client; the next request uses them.
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
        self.transport = transport
        self._network: httpx2.AsyncHTTPTransport | None = None

    def _shared_transport(self) -> httpx2.AsyncBaseTransport:
        """One transport for every request: building one loads the CA bundle
        into an SSL context, which blocks the event loop for some 20 ms, and a
        shared one also keeps connections to token endpoints open."""
        if self.transport is not None:
            return self.transport
        if self._network is None:
            self._network = httpx2.AsyncHTTPTransport()
        return self._network

    async def aclose(self) -> None:
        if self._network is not None:
            await self._network.aclose()
            self._network = None

    def _client(
        self, credentials: ClientCredentials, statuses: list[int]
    ) -> AsyncOAuth2Client:
        """A client for one operation. `statuses` collects the HTTP statuses of
        its token responses, which Authlib's errors do not carry."""
        secret = (
            credentials.client_secret.reveal() if credentials.client_secret else None
        )
        method = credentials.auth_method if secret else "none"
        # The client is a light wrapper around the shared transport, made per
        # operation because it carries the account's credentials; it is not
        # closed, since closing it would close the shared transport.
        kwargs: dict[str, Any] = {
            "timeout": self.timeout,
            "transport": self._shared_transport(),
        }
        client = AsyncOAuth2Client(
            client_id=credentials.client_id,
            client_secret=secret,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            **kwargs,
        )

        def record(response: httpx2.Response) -> httpx2.Response:
            statuses.append(response.status_code)
            return response

        client.register_compliance_hook("access_token_response", record)
        client.register_compliance_hook("refresh_token_response", record)
        return client

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
        statuses: list[int] = []
        client = self._client(credentials, statuses)
        raw = await self._call(
            token_endpoint,
            "exchange the authorization code",
            statuses,
            client.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier.reveal(),
            ),
        )
        return self._parse(raw, requested_scope)

    async def refresh(
        self,
        token_endpoint: str,
        credentials: ClientCredentials,
        *,
        refresh_token: Secret,
        granted_scope: str | None,
    ) -> TokenResponse:
        """Use a refresh token (RFC 6749 section 6). No scope is sent, which
        asks for the scope granted before. When the response carries no new
        refresh token, Authlib hands back the old one: it stays valid."""
        statuses: list[int] = []
        client = self._client(credentials, statuses)
        raw = await self._call(
            token_endpoint,
            "refresh the access token",
            statuses,
            client.refresh_token(token_endpoint, refresh_token=refresh_token.reveal()),
        )
        return self._parse(raw, granted_scope)

    async def client_credentials(
        self,
        token_endpoint: str,
        credentials: ClientCredentials,
        *,
        scope: str | None,
    ) -> TokenResponse:
        """Obtain a token for the client itself (RFC 6749 section 4.4)."""
        statuses: list[int] = []
        extra = {"scope": scope} if scope else {}
        client = self._client(credentials, statuses)
        raw = await self._call(
            token_endpoint,
            "obtain a client credentials token",
            statuses,
            client.fetch_token(
                token_endpoint, grant_type="client_credentials", **extra
            ),
        )
        return self._parse(raw, scope)

    async def revoke(
        self,
        revocation_endpoint: str,
        credentials: ClientCredentials,
        *,
        token: Secret,
        token_type_hint: str,
    ) -> None:
        """Revoke a token (RFC 7009). A 200 means revoked or already invalid
        (section 2.2); both count as done."""
        client = self._client(credentials, [])
        try:
            response = await client.revoke_token(
                revocation_endpoint,
                token=token.reveal(),
                token_type_hint=token_type_hint,
            )
        except httpx2.TimeoutException as exc:
            raise TokenEndpointUnavailableError(
                f"The revocation endpoint {revocation_endpoint} did not "
                f"answer within {self.timeout:g} seconds."
            ) from exc
        except httpx2.RequestError as exc:
            raise TokenEndpointUnavailableError(
                "Authwire could not reach the revocation endpoint "
                f"{revocation_endpoint} ({type(exc).__name__})."
            ) from exc
        if response.status_code != 200:
            raise TokenEndpointUnavailableError(
                f"The revocation endpoint answered HTTP {response.status_code}, "
                "so the grant may still be valid at the provider; revoke it "
                "there (in the provider's account or app settings) to be sure."
            )

    async def _call(
        self, endpoint: str, purpose: str, statuses: list[int], request: Any
    ) -> Mapping[str, Any]:
        try:
            result: Mapping[str, Any] = await request
            return result
        except AuthlibOAuthError as exc:
            error = str(exc.error or "error")
            description = exc.description or None
            text = f"{error}: {description}" if description else error
            status = statuses[-1] if statuses else None
            if error in TRANSIENT_ERRORS or status in TRANSIENT_4XX:
                raise TokenEndpointUnavailableError(
                    "The token endpoint asked Authwire to try again later "
                    f"({text}), so it could not {purpose} now."
                ) from exc
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
