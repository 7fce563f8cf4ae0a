"""Web service methods: configured HTTP requests, with templates for the URL,
the query and header values and the body.

A query or header entry may be marked secret (an API key in a custom header,
say): its value is stored encrypted with the other secrets of the method,
never returned, and redacted from the logs. Leaving a secret entry's value out
of an update keeps the stored one.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.kinds import AccountKind, ApiKeyLocation
from authwire.calls.templates import syntax_problem
from authwire.db.models import (
    MAX_ROW_ID,
    AuthAccount,
    WebServiceMethod,
    WebServiceProvider,
)
from authwire.db.owned import ensure_unique_name, get_owned, list_owned
from authwire.errors import InvalidInputError
from authwire.secrets import Keyring

log = logging.getLogger(__name__)

NOUN = "web service method"

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token

# Set by Authwire from the auth account, or by the HTTP client itself.
MANAGED_HEADERS = frozenset(
    {"authorization", "host", "content-length", "transfer-encoding"}
)

# RFC 9110 section 9.2.2: repeating these has the same effect as sending once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"


class ContentType(StrEnum):
    NONE = "none"
    JSON = "json"
    FORM = "form"
    TEXT = "text"
    XML = "xml"


MEDIA_TYPES = {
    ContentType.JSON: "application/json",
    ContentType.FORM: "application/x-www-form-urlencoded",
    ContentType.TEXT: "text/plain; charset=utf-8",
    ContentType.XML: "application/xml",
}


# An id of a row in this application: in range for the id columns.
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class NameValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    value: str | None = Field(
        None,
        max_length=8000,
        description="A template. For a secret entry, leave it out to keep the "
        "stored value.",
    )
    secret: bool = False


class NameValueOut(BaseModel):
    name: str
    value: str | None = Field(description="null for secret entries")
    secret: bool


class _MethodFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=4000)
    auth_account_id: RowId | None = None
    query: list[NameValue] | None = None
    headers: list[NameValue] | None = None
    body: str | None = Field(None, max_length=1_000_000)
    content_type: ContentType | None = None
    timeout_seconds: float | None = Field(None, gt=0, le=300)
    retry_enabled: bool | None = None
    max_retries: int | None = Field(None, ge=0, le=5)
    sample_parameters: dict[str, Any] | None = None


class MethodCreate(_MethodFields):
    name: str = Field(min_length=1, max_length=200)
    provider_id: RowId
    http_method: HttpMethod
    url: str = Field(
        max_length=8000,
        description="A template, relative to the provider's base URL, "
        "such as /users/{{ user_id }}.",
    )


class MethodUpdate(_MethodFields):
    name: str | None = Field(None, min_length=1, max_length=200)
    provider_id: RowId | None = None
    http_method: HttpMethod | None = None
    url: str | None = Field(None, max_length=8000)


class MethodOut(BaseModel):
    id: int
    application_id: int
    provider_id: int
    auth_account_id: int | None
    name: str
    description: str
    http_method: HttpMethod
    url: str
    query: list[NameValueOut]
    headers: list[NameValueOut]
    body: str | None
    content_type: ContentType
    timeout_seconds: float
    retry_enabled: bool = Field(description="Whether 429/502/503/504 are retried.")
    max_retries: int
    sample_parameters: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def retries_enabled(method: WebServiceMethod) -> bool:
    if method.retry_enabled is not None:
        return method.retry_enabled
    return method.http_method in IDEMPOTENT_METHODS


def method_secrets(
    keyring: Keyring, method: WebServiceMethod
) -> dict[str, dict[str, str]]:
    """{"query": {name: value}, "headers": {name: value}} of the secret entries."""
    if not method.secrets_enc:
        return {"query": {}, "headers": {}}
    stored: dict[str, dict[str, str]] = json.loads(keyring.decrypt(method.secrets_enc))
    return stored


def entries(method: WebServiceMethod, part: str) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = json.loads(getattr(method, part))
    return stored


def method_out(method: WebServiceMethod) -> MethodOut:
    def shown(part: str) -> list[NameValueOut]:
        return [
            NameValueOut(
                name=entry["name"],
                value=None if entry["secret"] else entry["value"],
                secret=entry["secret"],
            )
            for entry in entries(method, part)
        ]

    return MethodOut(
        id=method.id,
        application_id=method.application_id,
        provider_id=method.provider_id,
        auth_account_id=method.auth_account_id,
        name=method.name,
        description=method.description,
        http_method=HttpMethod(method.http_method),
        url=method.url,
        query=shown("query"),
        headers=shown("headers"),
        body=method.body,
        content_type=ContentType(method.content_type),
        timeout_seconds=method.timeout_seconds,
        retry_enabled=retries_enabled(method),
        max_retries=method.max_retries,
        sample_parameters=json.loads(method.sample_parameters),
        created_at=method.created_at,
        updated_at=method.updated_at,
    )


async def get_method(
    session: AsyncSession, application_id: int, method_id: int
) -> WebServiceMethod:
    return await get_owned(session, WebServiceMethod, application_id, method_id, NOUN)


async def list_methods(
    session: AsyncSession, application_id: int
) -> list[WebServiceMethod]:
    return await list_owned(
        session, WebServiceMethod, application_id, WebServiceMethod.name
    )


class _Draft:
    """The method's settings after a change, checked as a whole."""

    def __init__(
        self, values: dict[str, Any], secrets: dict[str, dict[str, str]]
    ) -> None:
        self.values = values
        self.secrets = secrets
        self.problems: dict[str, str] = {}

    def problem(self, field: str, text: str) -> None:
        self.problems.setdefault(field, text)


def _merge_entries(
    draft: _Draft, part: str, given: list[NameValue], old: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    old_secrets = draft.secrets.get(part, {})
    new_secrets: dict[str, str] = {}
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(given):
        field = f"{part}[{index}]"
        name = entry.name.strip()
        key = name.lower() if part == "headers" else name
        if key in seen:
            draft.problem(field, f"{name!r} is given twice; give each name once.")
        seen.add(key)
        if part == "headers":
            if not _HEADER_NAME.match(name):
                draft.problem(
                    field, f"{name!r} is not a valid header name (no spaces or colons)."
                )
            elif key in MANAGED_HEADERS:
                draft.problem(
                    field,
                    f"{name} is set by Authwire (from the auth account, or by the "
                    "HTTP client); remove it here.",
                )
        value = entry.value
        if entry.secret:
            if value is None:
                value = old_secrets.get(name)
                if value is None:
                    draft.problem(field, f"the secret {name!r} needs a value.")
                    continue
            new_secrets[name] = value
            result.append({"name": name, "value": None, "secret": True})
        else:
            if value is None:
                draft.problem(field, f"{name!r} needs a value (a template).")
                continue
            problem = syntax_problem(value)
            if problem:
                draft.problem(field, problem)
            result.append({"name": name, "value": value, "secret": False})
    draft.secrets[part] = new_secrets
    return result


async def _check(
    session: AsyncSession, application_id: int, draft: _Draft
) -> tuple[WebServiceProvider | None, AuthAccount | None]:
    values = draft.values
    provider = await session.get(WebServiceProvider, values["provider_id"])
    if provider is None or provider.application_id != application_id:
        draft.problem(
            "provider_id", "is not a web service provider of this application."
        )
        provider = None
    account = None
    if values["auth_account_id"] is not None:
        account = await session.get(AuthAccount, values["auth_account_id"])
        if account is None or account.application_id != application_id:
            draft.problem(
                "auth_account_id", "is not an auth account of this application."
            )
            account = None

    url: str = values["url"].strip()
    if "://" in url.split("?", 1)[0] or url.startswith("//"):
        draft.problem(
            "url",
            "must be relative to the provider's base URL (such as /v1/users); "
            "put the scheme and host in the provider.",
        )
    elif "?" in url:
        draft.problem("url", "must not contain a query string; use the query entries.")
    else:
        problem = syntax_problem(url)
        if problem:
            draft.problem("url", problem)

    content_type = ContentType(values["content_type"])
    body = values["body"]
    if body and content_type is ContentType.NONE:
        draft.problem(
            "content_type", "must say what the body is (json, form, text or xml)."
        )
    if body and values["http_method"] in ("GET", "HEAD"):
        draft.problem(
            "body", f"a {values['http_method']} request has no body; remove it."
        )
    if body:
        problem = syntax_problem(body)
        if problem:
            draft.problem("body", problem)

    if account is not None and AccountKind(account.kind) is AccountKind.API_KEY:
        location = account.api_key_location or ApiKeyLocation.HEADER
        part = "headers" if location == ApiKeyLocation.HEADER else "query"
        names = {e["name"].lower() for e in values[part]}
        if (account.api_key_name or "").lower() in names:
            draft.problem(
                part,
                f"{account.api_key_name} is set from the auth account "
                f"{account.name!r}; remove it here.",
            )
    return provider, account


def _raise_problems(draft: _Draft) -> None:
    if draft.problems:
        raise InvalidInputError.about("web service method", draft.problems)


def _write(method: WebServiceMethod, keyring: Keyring, draft: _Draft) -> None:
    values = draft.values
    method.provider_id = values["provider_id"]
    method.auth_account_id = values["auth_account_id"]
    method.http_method = values["http_method"]
    method.url = values["url"].strip()
    method.query = json.dumps(values["query"])
    method.headers = json.dumps(values["headers"])
    method.body = values["body"] or None
    method.content_type = values["content_type"]
    method.timeout_seconds = values["timeout_seconds"]
    method.retry_enabled = values["retry_enabled"]
    method.max_retries = values["max_retries"]
    method.sample_parameters = json.dumps(values["sample_parameters"])
    has_secrets = any(draft.secrets.get(part) for part in ("query", "headers"))
    method.secrets_enc = (
        keyring.encrypt(json.dumps(draft.secrets)) if has_secrets else None
    )


# What a method has when a field is not given (create) or given as null
# (update): null in a change means "back to the default".
_DEFAULTS: dict[str, Any] = {
    "timeout_seconds": 30.0,
    "max_retries": 2,
    "sample_parameters": {},
}

# Fields a method cannot be without: null in a change is refused.
_LEAVE_OUT = "cannot be null; leave it out to keep the current value."
_REQUIRED = frozenset({"provider_id", "http_method", "url"})


async def create_method(
    session: AsyncSession, keyring: Keyring, application_id: int, data: MethodCreate
) -> WebServiceMethod:
    draft = _Draft(
        {
            "provider_id": data.provider_id,
            "auth_account_id": data.auth_account_id,
            "http_method": data.http_method.value,
            "url": data.url,
            "body": data.body,
            "content_type": (data.content_type or ContentType.NONE).value,
            "timeout_seconds": data.timeout_seconds or _DEFAULTS["timeout_seconds"],
            "retry_enabled": data.retry_enabled,
            "max_retries": (
                data.max_retries
                if data.max_retries is not None
                else _DEFAULTS["max_retries"]
            ),
            "sample_parameters": (
                data.sample_parameters or _DEFAULTS["sample_parameters"]
            ),
        },
        {"query": {}, "headers": {}},
    )
    draft.values["query"] = _merge_entries(draft, "query", data.query or [], [])
    draft.values["headers"] = _merge_entries(draft, "headers", data.headers or [], [])
    await _check(session, application_id, draft)
    _raise_problems(draft)
    name = data.name.strip()
    await ensure_unique_name(session, WebServiceMethod, application_id, name, NOUN)
    method = WebServiceMethod(
        application_id=application_id,
        name=name,
        description=(data.description or "").strip(),
    )
    _write(method, keyring, draft)
    session.add(method)
    await session.flush()
    log.info(
        "web service method %s created in application %s", method.id, application_id
    )
    return method


async def update_method(
    session: AsyncSession,
    keyring: Keyring,
    method: WebServiceMethod,
    data: MethodUpdate,
) -> WebServiceMethod:
    given = data.model_dump(exclude_unset=True)
    draft = _Draft(
        {
            "provider_id": method.provider_id,
            "auth_account_id": method.auth_account_id,
            "http_method": method.http_method,
            "url": method.url,
            "body": method.body,
            "content_type": method.content_type,
            "timeout_seconds": method.timeout_seconds,
            "retry_enabled": method.retry_enabled,
            "max_retries": method.max_retries,
            "sample_parameters": json.loads(method.sample_parameters),
            "query": entries(method, "query"),
            "headers": entries(method, "headers"),
        },
        method_secrets(keyring, method),
    )
    for field in (
        "provider_id",
        "auth_account_id",
        "http_method",
        "url",
        "body",
        "content_type",
        "timeout_seconds",
        "retry_enabled",
        "max_retries",
        "sample_parameters",
    ):
        if field in given:
            value = given[field]
            if value is None and field in _REQUIRED:
                draft.problem(field, _LEAVE_OUT)
                continue
            if value is None and field in _DEFAULTS:
                value = _DEFAULTS[field]
            draft.values[field] = value.value if isinstance(value, StrEnum) else value
    for part in ("query", "headers"):
        if getattr(data, part) is not None:
            draft.values[part] = _merge_entries(draft, part, getattr(data, part), [])
    if draft.values["content_type"] is None:
        draft.values["content_type"] = ContentType.NONE.value
    await _check(session, method.application_id, draft)
    _raise_problems(draft)
    if data.name is not None:
        name = data.name.strip()
        await ensure_unique_name(
            session,
            WebServiceMethod,
            method.application_id,
            name,
            NOUN,
            own_id=method.id,
        )
        method.name = name
    if data.description is not None:
        method.description = data.description.strip()
    _write(method, keyring, draft)
    await session.flush()
    return method
