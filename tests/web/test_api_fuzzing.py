"""Property-based fuzzing of the REST API with schemathesis.

Each operation in /openapi.json gets its own test, on a fresh database (SQLite,
and PostgreSQL when the suite has one) seeded with an application, a provider,
a method, a webhook endpoint and accounts of several kinds, so that the id
paths reach real rows as well as missing ones. Every answer must be below 500,
every error must be JSON in the project's error shape, answers must match the
documented schema, invalid requests must be refused, and no stored secret may
come back in any answer.

Not checked: that every schema-valid request is accepted. Many rules depend on
other fields or on stored rows (a basic account needs a password, a method's
provider must exist, endpoints must be https), which OpenAPI cannot express.

Nothing here may reach a host outside loopback. The operations that send
requests out by design (a method's Test Request and calls, Generate, which
asks a token endpoint for the client-credentials kind, and revocation) are
left out; issuer discovery, which creating or changing an account may start,
is answered in-process with a refusal; and a guard on sockets and name
lookups fails the test if anything else tries to leave the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from authwire.oauth.discovery import DiscoveryError, ProviderMetadata
from authwire.runtime import Runtime
from authwire.web.app import create_app
from tests.calls.helpers import create_method, create_provider
from tests.helpers import BASE_URL, GENERIC_ACCOUNT

# Operations that make outbound HTTP calls by design; see the module docstring.
OUTBOUND = r"/(test|calls|authorization|revocation)$"

BEARER_TOKEN = "fuzz-bearer-token-0f3a9c"
PASSWORD = "fuzz-basic-password-7d21e4"
SECRETS = (BEARER_TOKEN, PASSWORD, GENERIC_ACCOUNT["client_secret"])

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240601,
        "generation": {
            "deterministic": True,
            "max-examples": 40,
            "mode": "all",
            "database": "none",
            # Unknown query parameters are generated too: every route must
            # refuse them (web/deps.py).
            "allow-extra-parameters": True,
        },
    }
)

schema = schemathesis.openapi.from_dict(create_app().openapi(), config=CONFIG).exclude(
    path_regex=OUTBOUND
)


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # a Unix socket path or the like, never a remote host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and record, every connection or name lookup beyond loopback."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            attempts.append(str(host))
            raise OSError(f"the fuzz test may not reach {host}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            name = host.decode() if isinstance(host, bytes) else str(host)
            check((name,))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"the API tried to reach {sorted(set(attempts))}"


@pytest.fixture
async def event_loop_of_fixtures() -> asyncio.AbstractEventLoop:
    """The loop the async fixtures (runtime, client) run on; the test body
    drives the app on it between examples."""
    return asyncio.get_running_loop()


@pytest.fixture
async def seeded(
    api: httpx2.AsyncClient,
    application_id: int,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    loopback_only: list[str],
) -> dict[str, int]:
    """Real rows for the id paths, and discovery that never leaves."""

    async def no_discovery(issuer: str) -> ProviderMetadata:
        raise DiscoveryError("discovery is not available in the fuzz test")

    monkeypatch.setattr(runtime, "discover", no_discovery)
    base = f"/api/v1/applications/{application_id}"
    accounts = [
        GENERIC_ACCOUNT,
        {"name": "Static", "kind": "bearer", "bearer_token": BEARER_TOKEN},
        {"name": "Basic", "kind": "basic", "username": "u", "password": PASSWORD},
    ]
    account_ids = []
    for body in accounts:
        response = await api.post(f"{base}/auth-accounts", json=body)
        assert response.status_code == 201, response.text
        account_ids.append(int(response.json()["id"]))
    provider = await create_provider(api, application_id, "http://127.0.0.1:9")
    method = await create_method(
        api, application_id, provider["id"], auth_account_id=account_ids[1]
    )
    webhook = await api.post(
        f"{base}/webhooks", json={"url": "http://127.0.0.1:9/hook"}
    )
    assert webhook.status_code == 201, webhook.text
    return {
        "application_id": application_id,
        "account_id": account_ids[0],
        "provider_id": int(provider["id"]),
        "method_id": int(method["id"]),
        "endpoint_id": int(webhook.json()["id"]),
    }


def _request_arguments(case: Case) -> dict[str, Any]:
    """The case as arguments for httpx2 (schemathesis prepares them in the
    shape of the `requests` library)."""
    prepared = case.as_transport_kwargs(base_url=BASE_URL)
    arguments: dict[str, Any] = {
        "method": prepared["method"],
        "url": prepared["url"],
        "headers": prepared.get("headers") or {},
        "params": prepared.get("params"),
    }
    if prepared.get("cookies"):
        arguments["cookies"] = prepared["cookies"]
    if "json" in prepared:
        arguments["json"] = prepared["json"]
    data = prepared.get("data")
    if isinstance(data, str | bytes):
        arguments["content"] = data
    elif data is not None:
        arguments["data"] = data
    if prepared.get("files"):
        arguments["files"] = prepared["files"]
    return arguments


def error_shape(ctx: Any, response: Response, case: Case) -> bool | None:
    """Every 4xx or 5xx answer is JSON: `{"error": code, "message": text}`."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise Failure(
            operation=case.operation.label,
            title="Error answer is not JSON",
            message=f"{response.status_code}: {response.content[:200]!r}",
        ) from None
    if not (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and isinstance(body.get("message"), str)
        and body["message"]
    ):
        raise Failure(
            operation=case.operation.label,
            title="Error answer is not in the error shape",
            message=f"{response.status_code}: {body!r}",
        )
    return True


def no_stored_secret(ctx: Any, response: Response, case: Case) -> bool | None:
    """No secret the seed stored comes back, in any answer."""
    text = response.content.decode("utf-8", "replace")
    shown = [secret for secret in SECRETS if secret in text]
    if shown:
        raise Failure(
            operation=case.operation.label,
            title="A stored secret is in the answer",
            message=f"{response.status_code} answer shows {shown}",
        )
    return True


def test_the_loopback_guard_refuses_and_records_other_hosts(
    loopback_only: list[str],
) -> None:
    with pytest.raises(OSError, match="may not reach 192.0.2.1"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(OSError, match="may not reach idp.test"):
        socket.getaddrinfo("idp.test", 443)
    assert loopback_only == ["192.0.2.1", "idp.test"]
    loopback_only.clear()  # recorded as it should be; let the teardown pass


@schema.parametrize()
@schema.given(real_ids=st.booleans())
@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_within_its_contract(
    case: Case,
    real_ids: bool,
    api: httpx2.AsyncClient,
    admin_token: str,
    seeded: dict[str, int],
    event_loop_of_fixtures: asyncio.AbstractEventLoop,
) -> None:
    if real_ids and case.path_parameters:
        for name in case.path_parameters:
            if name in seeded:
                case.path_parameters[name] = seeded[name]
    arguments = _request_arguments(case)
    arguments["headers"]["Authorization"] = f"Bearer {admin_token}"
    response = event_loop_of_fixtures.run_until_complete(api.request(**arguments))
    case.validate_response(
        response,
        additional_checks=[error_shape, no_stored_secret],
        excluded_checks=[positive_data_acceptance],
    )
