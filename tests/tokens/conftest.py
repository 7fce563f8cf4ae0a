"""A stand-in token endpoint (httpx2.MockTransport) for the keeper's tests,
and an authorized account whose token has expired."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs

import httpx2
import pytest

from authwire.db.types import utcnow
from authwire.runtime import Runtime
from tests.helpers import create_account, give_tokens

Handler = Callable[[httpx2.Request], httpx2.Response]


class TokenEndpoint:
    def __init__(self) -> None:
        self.handler: Handler = self.fresh_tokens
        self.requests: list[dict[str, list[str]]] = []
        self.issued = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(parse_qs(request.content.decode()))
        return self.handler(request)

    def fresh_tokens(self, request: httpx2.Request) -> httpx2.Response:
        self.issued += 1
        return httpx2.Response(
            200,
            json={
                "access_token": f"at-new-{self.issued}-0123456789",
                "refresh_token": f"rt-new-{self.issued}-0123456789",
                "token_type": "bearer",
                "expires_in": 3600,
            },
        )


@pytest.fixture
def token_endpoint(runtime: Runtime) -> TokenEndpoint:
    endpoint = TokenEndpoint()
    runtime.token_endpoint.timeout = 0.5
    runtime.token_endpoint.transport = httpx2.MockTransport(endpoint)
    return endpoint


@pytest.fixture
async def account_id(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> int:
    account = await create_account(api, application_id)
    await give_tokens(
        runtime, account["id"], expires_at=utcnow() - timedelta(seconds=5)
    )
    return int(account["id"])
