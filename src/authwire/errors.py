"""The errors Authwire raises, each with a code for machines and a sentence for
people that says what failed and what to do next.

    AuthwireError                      code, message, HTTP status
    ├── NotFoundError                  404: no such application, account, ...
    ├── ConflictError                  409: a name already taken, a state clash
    ├── InvalidInputError              422: per-field messages in `fields`
    ├── AuthenticationRequiredError    401: no or a bad API token
    ├── PermissionDeniedError          403: signed in, but not allowed
    ├── ConfigurationError             settings or keys that cannot work
    ├── AccountUnavailableError        401: a call cannot use the account now
    │                                  (not authorized, needs reauthorization,
    │                                  inactive); the reason says why
    ├── WebhookSignatureError          a webhook's signature is wrong or stale
    ├── NotificationDeliveryError      one attempt to send a webhook or e-mail
    └── OAuthError                     the OAuth 2.0 flow and the token endpoint
        ├── AuthorizationStateError    callback state unknown, expired, reused
        ├── AuthorizationDeniedError   the provider answered error=...
        ├── IssuerMismatchError        RFC 9207 `iss` names another server
        ├── TokenEndpointError         the token endpoint refused (error code)
        ├── MissingRefreshTokenError   a code exchange gave no refresh token
        └── TokenEndpointUnavailableError  5xx, HTML, timeout, network

Messages never contain a secret: they are shown on pages, returned by the API
and written to logs.
"""

from __future__ import annotations

from typing import Any


class AuthwireError(Exception):
    code = "error"
    status_code = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFoundError(AuthwireError):
    code = "not_found"
    status_code = 404


class ConflictError(AuthwireError):
    code = "conflict"
    status_code = 409


class InvalidInputError(AuthwireError):
    """Input that fails validation; `fields` maps a field name to its problem."""

    code = "invalid_input"
    status_code = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}

    @classmethod
    def for_field(cls, field: str, problem: str) -> InvalidInputError:
        return cls(f"{field}: {problem}", {field: problem})

    @classmethod
    def about(cls, subject: str, problems: dict[str, str]) -> InvalidInputError:
        """The `problems` (field: problem) of a `subject` such as "auth
        account"; the message states the first, so that it reads alone."""
        field, problem = next(iter(problems.items()))
        return cls(f"The {subject} is not valid: {field} {problem}", problems)


class AuthenticationRequiredError(AuthwireError):
    code = "authentication_required"
    status_code = 401


class PermissionDeniedError(AuthwireError):
    code = "permission_denied"
    status_code = 403


class ConfigurationError(AuthwireError):
    code = "configuration_error"


class WebhookSignatureError(AuthwireError):
    """A webhook whose `Authwire-Signature` does not prove it came from us now.

    Raised by `authwire.notifications.signing.verify_signature`, for receivers.
    """

    code = "invalid_signature"
    status_code = 401


class AccountUnavailableError(AuthwireError):
    """The account cannot authenticate calls until an admin acts.

    Calls fail at once with 401 and this message, as the provider would
    answer with the revoked grant.
    """

    code = "account_unavailable"
    status_code = 401


class NotificationDeliveryError(AuthwireError):
    """One attempt to deliver a notification failed; the worker retries it.

    The message is stored as the delivery's `last_error` and shown to admins,
    so it names the cause and, where one applies, the setting to change.
    """

    code = "notification_delivery_failed"
    status_code = 502


class OAuthError(AuthwireError):
    code = "oauth_error"
    status_code = 400


class AuthorizationStateError(OAuthError):
    code = "invalid_state"


class AuthorizationDeniedError(OAuthError):
    code = "authorization_denied"


class IssuerMismatchError(OAuthError):
    code = "issuer_mismatch"


class TokenEndpointError(OAuthError):
    """The token endpoint answered with an OAuth error such as invalid_grant."""

    code = "token_endpoint_error"
    status_code = 502

    def __init__(self, message: str, *, error: str, description: str | None) -> None:
        super().__init__(message)
        self.error = error
        self.description = description


class MissingRefreshTokenError(OAuthError):
    code = "missing_refresh_token"
    status_code = 502


class TokenEndpointUnavailableError(OAuthError):
    """A transient failure: 5xx, a non-JSON answer, a timeout, a network error."""

    code = "token_endpoint_unavailable"
    status_code = 502


def json_type_name(value: Any) -> str:
    """What a JSON value is, for a message that expected an object: "an
    array", "a string", ..."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "null"
