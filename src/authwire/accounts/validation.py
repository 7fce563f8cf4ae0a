"""The rules an auth account's settings must follow, per kind.

Each problem is reported against its field with a sentence that says what to
change, and all problems are reported at once, so that a form can show them
beside their fields.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from authwire.accounts.kinds import AccountKind

_REQUIRED: dict[AccountKind, tuple[str, ...]] = {
    AccountKind.OAUTH2_GENERIC: (
        "client_id",
        "authorization_endpoint",
        "token_endpoint",
    ),
    AccountKind.OAUTH2_GOOGLE: ("client_id", "client_secret", "scope"),
    AccountKind.OAUTH2_MICROSOFT: ("client_id", "client_secret", "scope"),
    AccountKind.OAUTH2_CLIENT_CREDENTIALS: (
        "client_id",
        "client_secret",
        "token_endpoint",
    ),
    AccountKind.BASIC: ("username", "password"),
    AccountKind.API_KEY: ("api_key_name", "api_key"),
    AccountKind.BEARER: ("bearer_token",),
}

_OAUTH_COMMON = ("client_id", "client_secret", "scope", "token_endpoint_auth_method")

_ALLOWED: dict[AccountKind, frozenset[str]] = {
    AccountKind.OAUTH2_GENERIC: frozenset(
        _OAUTH_COMMON
        + ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint")
    ),
    AccountKind.OAUTH2_GOOGLE: frozenset(_OAUTH_COMMON),
    AccountKind.OAUTH2_MICROSOFT: frozenset(_OAUTH_COMMON + ("tenant",)),
    AccountKind.OAUTH2_CLIENT_CREDENTIALS: frozenset(
        _OAUTH_COMMON + ("issuer", "token_endpoint", "revocation_endpoint")
    ),
    AccountKind.BASIC: frozenset({"username", "password"}),
    AccountKind.API_KEY: frozenset({"api_key_name", "api_key_location", "api_key"}),
    AccountKind.BEARER: frozenset({"bearer_token"}),
}

# Every kind-specific field; name, description and active belong to all kinds.
KIND_FIELDS = frozenset().union(*_ALLOWED.values())

URL_FIELDS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "revocation_endpoint",
)

# What each URL field looks like, for the message when one is not a URL.
URL_EXAMPLES = {
    "issuer": "https://login.example.com",
    "authorization_endpoint": "https://login.example.com/oauth2/authorize",
    "token_endpoint": "https://login.example.com/oauth2/token",
    "revocation_endpoint": "https://login.example.com/oauth2/revoke",
}

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,199}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token


def _kind_label(kind: AccountKind) -> str:
    return kind.value


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_problem(
    value: str, *, allow_http: bool, example: str, described: str = "URL"
) -> str | None:
    """Why `value` cannot be an endpoint Authwire sends secrets or tokens to, or
    None when it can. `example` shows a good value for the field, and
    `described` what the field takes ("URL" unless there is more to say)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "is not a valid URL."
    if parts.scheme not in ("https", "http") or not host:
        if allow_http:
            return (
                f"must be an absolute https:// or http:// {described}, "
                f"such as {example}."
            )
        return (
            f"must be an absolute https:// {described}, such as {example}; http:// is "
            "accepted only for loopback hosts (such as localhost or 127.0.0.1) "
            "or with AUTHWIRE_ALLOW_HTTP_ENDPOINTS=true."
        )
    if parts.fragment:
        return "must not contain a #fragment (RFC 6749 section 3.1)."
    if parts.username or parts.password:
        return (
            "must not contain a user name or password; enter the client ID "
            "and secret in their own fields."
        )
    if parts.scheme == "http" and not (allow_http or is_loopback_host(host)):
        return (
            "must use https://: tokens and secrets would otherwise cross the "
            "network unencrypted. (Plain http is accepted for loopback hosts, or "
            "everywhere with AUTHWIRE_ALLOW_HTTP_ENDPOINTS=true.)"
        )
    return None


def normalize_scope(scope: str) -> str:
    return " ".join(scope.split())


def account_problems(
    kind: AccountKind, values: dict[str, Any], *, allow_http: bool
) -> dict[str, str]:
    """Every problem with the settings `values` of an account of `kind`.

    `values` holds the account's settings after the change, secrets included
    (as booleans or strings: only their presence is checked here).
    """
    problems: dict[str, str] = {}
    allowed = _ALLOWED[kind]

    for field in KIND_FIELDS - allowed:
        if values.get(field) not in (None, ""):
            problems[field] = _not_used_problem(kind, field)

    for field in _REQUIRED[kind]:
        if values.get(field) in (None, "", False):
            problems[field] = _required_problem(kind, field)
            if field in URL_FIELDS and "issuer" in allowed:
                problems[field] += (
                    " (Or enter the issuer URL alone, and Authwire reads the "
                    "endpoints from the provider's metadata.)"
                )

    for field in URL_FIELDS:
        value = values.get(field)
        if field in allowed and value and field not in problems:
            problem = endpoint_problem(
                value, allow_http=allow_http, example=URL_EXAMPLES[field]
            )
            if problem:
                problems[field] = problem

    scope = values.get("scope")
    if scope and "scope" not in problems:
        bad = [token for token in scope.split() if not _SCOPE_TOKEN.match(token)]
        if bad:
            problems["scope"] = (
                f"{bad[0]!r} is not a valid scope value: scopes are separated "
                "by spaces and may not contain quotes or backslashes."
            )

    tenant = values.get("tenant")
    if tenant and "tenant" not in problems and not _TENANT.match(tenant):
        problems["tenant"] = (
            "must be a tenant ID (a GUID), a domain such as contoso.onmicrosoft.com, "
            "or one of common, organizations, consumers."
        )

    name = values.get("api_key_name")
    location = values.get("api_key_location") or "header"
    if name and location == "header" and not _HEADER_NAME.match(name):
        problems["api_key_name"] = (
            f"{name!r} is not a valid HTTP header name (letters, digits and "
            "-, no spaces), such as X-API-Key."
        )

    client_id = values.get("client_id")
    if client_id and any(ord(ch) < 0x20 for ch in client_id):
        problems["client_id"] = "must not contain control characters or line breaks."

    return problems


def _required_problem(kind: AccountKind, field: str) -> str:
    hints = {
        "client_id": "the client ID the provider gave you when you registered "
        "the application",
        "client_secret": "the client secret the provider gave you with the client ID",
        "scope": "the space-separated permissions the calls need, for example "
        + (
            "https://www.googleapis.com/auth/spreadsheets"
            if kind is AccountKind.OAUTH2_GOOGLE
            else "https://graph.microsoft.com/User.Read"
            if kind is AccountKind.OAUTH2_MICROSOFT
            else "read write"
        ),
        "authorization_endpoint": "the provider's authorization endpoint URL",
        "token_endpoint": "the provider's token endpoint URL",
        "username": "the user name",
        "password": "the password",
        "api_key_name": "the header or query parameter name that carries the key",
        "api_key": "the key's value",
        "bearer_token": "the static token",
    }
    hint = hints.get(field, field)
    return f"is required for {_kind_label(kind)} accounts: enter {hint}."


def _not_used_problem(kind: AccountKind, field: str) -> str:
    if (
        kind in (AccountKind.OAUTH2_GOOGLE, AccountKind.OAUTH2_MICROSOFT)
        and field in URL_FIELDS
    ):
        return (
            f"is not used by {_kind_label(kind)} accounts, which use the provider's "
            "own endpoints; choose oauth2_generic to enter other endpoints."
        )
    return f"is not used by {_kind_label(kind)} accounts; leave it out."
