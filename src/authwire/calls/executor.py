"""The call path: how a web service method is performed, for every caller
(Test Request, workflow steps, the API).

    load -> check provider and account -> render -> egress check -> credentials
         -> send (size-capped read) -> 401: refresh once, send again
         -> 429/502/503/504: retry per policy, honouring Retry-After
         -> one log entry, redacted -> result

A failure before anything is sent (an inactive provider or account, a
template error, a refused host) is a call too: it is logged as unsuccessful
with its reason, and nothing goes out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload

from authwire.accounts.kinds import AccountKind, AccountStatus, ApiKeyLocation
from authwire.accounts.service import read_secrets
from authwire.batching import Batcher
from authwire.calls.egress import EgressGuard, EgressRefusedError
from authwire.calls.log_writer import LogWriter
from authwire.calls.methods import (
    MEDIA_TYPES,
    ContentType,
    entries,
    method_secrets,
    retries_enabled,
)
from authwire.calls.redaction import Redactor
from authwire.calls.templates import TemplateError, render
from authwire.db.models import AuthAccount, WebServiceMethod, WebServiceProvider
from authwire.errors import (
    AccountUnavailableError,
    NotFoundError,
    TokenEndpointUnavailableError,
)
from authwire.metrics import Metrics
from authwire.secrets import Keyring, Secret
from authwire.settings import Settings
from authwire.tokens.keeper import AccessToken, TokenKeeper

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
FIRST_RETRY_DELAY = 0.5  # seconds, doubled per retry when no Retry-After


@dataclass(frozen=True)
class CallContext:
    source: str  # test | workflow | api
    workflow_id: int | None = None
    run_id: int | None = None
    step_key: str | None = None


class CallResult(BaseModel):
    log_id: int
    success: bool
    status: int | None
    headers: dict[str, str]
    body: str | None
    body_size: int
    body_truncated: bool
    duration_ms: float
    error: str | None
    token_refreshed: bool
    attempts: int


class _Failure(Exception):
    """The call failed; `status` is what the log records (401 for accounts)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class _Loaded:
    """A method as the call path needs it, read and prepared once per load
    batch and shared, read-only, by the calls of that batch."""

    method: WebServiceMethod
    provider: WebServiceProvider
    account: AuthAccount | None
    query: list[dict[str, Any]]
    headers: list[dict[str, Any]]
    # {"query": {name: value}, "headers": {name: value}} of secret entries.
    entry_secrets: dict[str, dict[str, str]]
    account_secrets: dict[str, Secret]

    @classmethod
    def prepare(
        cls,
        keyring: Keyring,
        method: WebServiceMethod,
        provider: WebServiceProvider,
        account: AuthAccount | None,
    ) -> _Loaded:
        return cls(
            method=method,
            provider=provider,
            account=account,
            query=entries(method, "query"),
            headers=entries(method, "headers"),
            entry_secrets=method_secrets(keyring, method),
            account_secrets=read_secrets(keyring, account) if account else {},
        )


@dataclass
class _Request:
    http_method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    redactor: Redactor


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    size: int
    truncated: bool
    encoding: str | None


@dataclass
class _Record:
    """What the log entry will say, filled in as the call goes."""

    request: _Request | None = None
    response: _Response | None = None
    error: str | None = None
    status: int | None = None
    attempts: int = 0
    token_refreshed: bool = False
    secrets: list[str] = field(default_factory=list)


class Caller:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        keeper: TokenKeeper,
        settings: Settings,
        metrics: Metrics,
        http_client: httpx2.AsyncClient,
        log_writer: LogWriter,
        egress: EgressGuard,
        egress_at_connect: bool,
    ) -> None:
        """`egress_at_connect`: the client's connections check `egress`
        themselves (`calls.network`), so a call checks names and literals
        only, without a DNS lookup of its own."""
        self._sessions = sessions
        self._keyring = keyring
        self._keeper = keeper
        self._settings = settings
        self._metrics = metrics
        self._http = http_client
        self._log_writer = log_writer
        self._egress = egress
        self._egress_at_connect = egress_at_connect
        self._loads: Batcher[tuple[int, int], _Loaded] = Batcher(
            self._load_many, max_batch=200, name="web service method loader"
        )

    async def call(
        self,
        application_id: int,
        method_id: int,
        parameters: Mapping[str, Any],
        context: CallContext,
    ) -> CallResult:
        started = time.perf_counter()
        loaded = await self._load(application_id, method_id)
        record = _Record()
        try:
            await self._perform(loaded, parameters, record)
        except _Failure as failure:
            record.error = failure.message
            record.status = failure.status if record.response is None else record.status
        except TemplateError as exc:
            record.error = exc.message
        duration_ms = (time.perf_counter() - started) * 1000
        return await self._finish(loaded, context, record, duration_ms)

    async def _load(self, application_id: int, method_id: int) -> _Loaded:
        return await self._loads.submit((application_id, method_id))

    async def _load_many(
        self, keys: list[tuple[int, int]]
    ) -> list[_Loaded | Exception]:
        """The methods of a load batch with their providers and accounts, in
        one query. The accounts' token sets are not loaded: the keeper reads
        the token."""
        query = (
            select(WebServiceMethod, WebServiceProvider, AuthAccount)
            .join(
                WebServiceProvider,
                WebServiceProvider.id == WebServiceMethod.provider_id,
            )
            .outerjoin(AuthAccount, AuthAccount.id == WebServiceMethod.auth_account_id)
            .where(WebServiceMethod.id.in_({method_id for _, method_id in keys}))
            .options(raiseload(AuthAccount.token_set))
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        found = {row[0].id: _Loaded.prepare(self._keyring, *row) for row in rows}
        outcomes: list[_Loaded | Exception] = []
        for application_id, method_id in keys:
            loaded = found.get(method_id)
            if loaded is None or loaded.method.application_id != application_id:
                outcomes.append(
                    NotFoundError(
                        f"Application {application_id} has no web service method "
                        f"{method_id}."
                    )
                )
            else:
                outcomes.append(loaded)
        return outcomes

    async def _perform(
        self, loaded: _Loaded, parameters: Mapping[str, Any], record: _Record
    ) -> None:
        method, provider, account = loaded.method, loaded.provider, loaded.account
        if not provider.active:
            raise _Failure(
                f"The web service provider {provider.name!r} is inactive, so its "
                "methods are not called. Make it active to call them again."
            )
        if account is not None:
            self._check_account(account)
        request = self._render(loaded, parameters, record)
        record.request = request
        parts = urlsplit(request.url)
        try:
            await self._egress.check(
                parts.hostname or "",
                parts.port or 443,
                resolve=not self._egress_at_connect,
            )
        except EgressRefusedError as exc:
            raise _Failure(exc.message) from exc

        token = await self._authorize(loaded, request, record)
        record.token_refreshed = bool(token and token.refreshed)
        policy_retries = 0
        refreshed_after_401 = False
        while True:
            record.attempts += 1
            response = await self._send(method, request, token)
            record.response, record.status = response, response.status
            if (
                response.status == 401
                and token is not None
                and account is not None
                and not token.refreshed
                and not refreshed_after_401
            ):
                # A token that was not just refreshed: the provider may have
                # revoked it early. Refresh once and try once more.
                token = await self._refresh_after_401(account, token, record)
                refreshed_after_401 = True
                continue
            delay = self._retry_delay(method, response, policy_retries)
            if delay is None:
                return
            policy_retries += 1
            await asyncio.sleep(delay)

    @staticmethod
    def _check_account(account: AuthAccount) -> None:
        if not account.active:
            raise _Failure(
                f"The auth account {account.name!r} is inactive. Make it active "
                "(after generating its tokens, for OAuth accounts) to use it.",
                status=401,
            )
        if account.status == AccountStatus.NEEDS_REAUTHORIZATION:
            raise _Failure(
                f"The auth account {account.name!r} needs to be authorized again: "
                f"{account.status_reason or 'the provider refused its grant.'} "
                "Generate new tokens for it.",
                status=401,
            )

    def _render(
        self, loaded: _Loaded, parameters: Mapping[str, Any], record: _Record
    ) -> _Request:
        method, provider = loaded.method, loaded.provider
        label = f"web service method {method.name!r}"
        secrets = loaded.entry_secrets
        record.secrets += [v for part in secrets.values() for v in part.values()]

        path = render(f"the URL of {label}", method.url, parameters).strip()
        url = provider.base_url + ("/" + path.lstrip("/") if path else "")
        if urlsplit(url).netloc != urlsplit(provider.base_url).netloc:
            raise _Failure(
                f"The URL of {label} rendered to another host than the provider's; "
                "encode parameters in the path with the urlencode_component filter."
            )
        query = [
            (
                entry["name"],
                secrets["query"][entry["name"]]
                if entry["secret"]
                else render(
                    f"the query parameter {entry['name']!r} of {label}",
                    entry["value"],
                    parameters,
                ),
            )
            for entry in loaded.query
        ]
        headers = {
            entry["name"]: secrets["headers"][entry["name"]]
            if entry["secret"]
            else render(
                f"the header {entry['name']!r} of {label}", entry["value"], parameters
            )
            for entry in loaded.headers
        }
        body: bytes | None = None
        content_type = ContentType(method.content_type)
        if method.body:
            text = render(f"the body of {label}", method.body, parameters)
            if content_type is ContentType.JSON:
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise TemplateError(
                        f"the body of {label}",
                        f"did not render to valid JSON ({exc}). Insert values with "
                        "the tojson filter, such as {{ name | tojson }}.",
                    ) from exc
            body = text.encode()
        has_type = any(name.lower() == "content-type" for name in headers)
        if content_type in MEDIA_TYPES and body is not None and not has_type:
            headers["Content-Type"] = MEDIA_TYPES[content_type]
        if query:
            url += "?" + urlencode(query)
        return _Request(
            method.http_method,
            url,
            headers,
            body,
            Redactor(
                values=(),
                header_names=[e["name"] for e in loaded.headers if e["secret"]],
                query_names=[e["name"] for e in loaded.query if e["secret"]],
            ),
        )

    async def _authorize(
        self, loaded: _Loaded, request: _Request, record: _Record
    ) -> AccessToken | None:
        account = loaded.account
        if account is None:
            return None
        kind = AccountKind(account.kind)
        if kind.is_oauth:
            try:
                token = await self._keeper.access_token(account.id)
            except AccountUnavailableError as exc:
                raise _Failure(exc.message, status=401) from exc
            except TokenEndpointUnavailableError as exc:
                raise _Failure(
                    f"The access token could not be renewed: {exc.message}"
                ) from exc
            record.secrets.append(token.value.reveal())
            return token
        secrets = loaded.account_secrets
        record.secrets += [secret.reveal() for secret in secrets.values()]
        if kind is AccountKind.BASIC:
            pair = f"{account.username}:{secrets['password'].reveal()}".encode()
            request.headers["Authorization"] = (
                "Basic " + base64.b64encode(pair).decode()
            )
            record.secrets.append(request.headers["Authorization"].split(" ", 1)[1])
        elif kind is AccountKind.BEARER:
            request.headers["Authorization"] = (
                f"Bearer {secrets['bearer_token'].reveal()}"
            )
        elif kind is AccountKind.API_KEY:
            name, value = account.api_key_name or "", secrets["api_key"].reveal()
            if account.api_key_location == ApiKeyLocation.QUERY:
                separator = "&" if "?" in request.url else "?"
                request.url += separator + urlencode({name: value})
            else:
                request.headers[name] = value
        return None

    async def _refresh_after_401(
        self, account: AuthAccount, token: AccessToken, record: _Record
    ) -> AccessToken:
        try:
            renewed = await self._keeper.refresh_after_rejection(
                account.id, token.version
            )
        except AccountUnavailableError as exc:
            raise _Failure(exc.message, status=401) from exc
        except TokenEndpointUnavailableError as exc:
            raise _Failure(
                f"The web service answered 401 and the access token could not be "
                f"renewed: {exc.message}",
                status=401,
            ) from exc
        record.secrets.append(renewed.value.reveal())
        record.token_refreshed = True
        return renewed

    async def _send(
        self, method: WebServiceMethod, request: _Request, token: AccessToken | None
    ) -> _Response:
        headers = dict(request.headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token.value.reveal()}"
        outgoing = self._http.build_request(
            request.http_method,
            request.url,
            headers=headers,
            content=request.body,
            timeout=method.timeout_seconds,
        )
        cap = self._settings.call_response_max_bytes
        try:
            response = await self._http.send(outgoing, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        truncated = True
                        break
                    chunks.append(chunk)
            finally:
                await response.aclose()
        except EgressRefusedError as exc:  # from calls.network, at connect time
            raise _Failure(exc.message) from exc
        except httpx2.TimeoutException as exc:
            raise _Failure(
                f"The web service did not answer within {method.timeout_seconds:g} "
                "seconds (the method's timeout)."
            ) from exc
        except httpx2.RequestError as exc:
            raise _Failure(
                f"The request to the web service failed: {type(exc).__name__}: {exc}"
            ) from exc
        declared = response.headers.get("content-length", "")
        if truncated and declared.isdigit():
            size = int(declared)
        return _Response(
            status=response.status_code,
            headers=dict(response.headers),
            body=b"".join(chunks),
            size=size,
            truncated=truncated,
            encoding=response.charset_encoding,
        )

    def _retry_delay(
        self, method: WebServiceMethod, response: _Response, done: int
    ) -> float | None:
        if response.status not in RETRYABLE_STATUSES:
            return None
        if not retries_enabled(method) or done >= method.max_retries:
            return None
        delay = _retry_after(response.headers.get("retry-after"))
        if delay is None:
            delay = FIRST_RETRY_DELAY * (2**done)
        if delay > self._settings.call_retry_max_wait_seconds:
            return None  # the caller learns the status rather than wait that long
        return delay

    async def _finish(
        self,
        loaded: _Loaded,
        context: CallContext,
        record: _Record,
        duration_ms: float,
    ) -> CallResult:
        method, account = loaded.method, loaded.account
        response = record.response
        request = record.request
        if response is not None and response.truncated and record.error is None:
            record.error = (
                f"The answer was larger than {self._settings.call_response_max_bytes} "
                "bytes; Authwire stopped reading it."
            )
        success = (
            response is not None
            and 200 <= response.status < 300
            and record.error is None
        )
        names = request.redactor if request else Redactor(values=())
        redactor = names.with_values(record.secrets)
        limit = self._settings.log_body_max_bytes
        body_text = _decode(response.body, response.encoding) if response else None
        sent_headers = dict(request.headers) if request else {}
        if account is not None and AccountKind(account.kind).is_oauth:
            sent_headers["Authorization"] = "Bearer"
        entry: dict[str, Any] = {
            "created_at": datetime.now(UTC),
            "application_id": method.application_id,
            "source": context.source,
            "method_id": method.id,
            "method_name": method.name,
            "account_id": account.id if account else None,
            "account_name": account.name if account else None,
            "workflow_id": context.workflow_id,
            "run_id": context.run_id,
            "step_key": context.step_key,
            "request_method": method.http_method,
            "request_url": redactor.url(request.url) if request else "",
            "request_headers": json.dumps(redactor.headers(sent_headers)),
            "request_body": redactor.text(_cut(request.body, limit))
            if request
            else None,
            "request_body_size": len(request.body or b"") if request else 0,
            "response_status": record.status,
            "response_headers": json.dumps(
                redactor.headers(response.headers) if response else {}
            ),
            "response_body": redactor.text(_cut(response.body, limit))
            if response
            else None,
            "response_body_size": response.size if response else 0,
            "response_body_truncated": bool(
                response and (response.truncated or response.size > limit)
            ),
            "duration_ms": round(duration_ms, 3),
            "attempts": record.attempts,
            "success": success,
            "error": redactor.text(record.error),
            "token_refreshed": record.token_refreshed,
        }
        log_id = await self._log_writer.write(entry)
        self._metrics.calls.labels(
            source=context.source, success=str(success).lower()
        ).inc()
        self._metrics.call_duration.observe(duration_ms / 1000)
        if not success:
            log.info(
                "call of web service method %s failed (status %s, log entry %s)",
                method.id,
                record.status,
                log_id,
            )
        return CallResult(
            log_id=log_id,
            success=success,
            status=record.status,
            headers=redactor.headers(response.headers) if response else {},
            body=redactor.text(body_text),
            body_size=response.size if response else 0,
            body_truncated=bool(response and response.truncated),
            duration_ms=round(duration_ms, 3),
            error=entry["error"],
            token_refreshed=record.token_refreshed,
            attempts=record.attempts,
        )


def _decode(body: bytes, encoding: str | None) -> str:
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _cut(body: bytes | None, limit: int) -> str | None:
    if body is None:
        return None
    # Cutting may split a multi-byte character; "replace" keeps the text valid.
    return body[:limit].decode("utf-8", errors="replace")


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait per a Retry-After header (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
