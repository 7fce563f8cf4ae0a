"""Egress is checked where connections are made: a name that passes the
call path's check is still refused when it resolves to a denied address."""

from __future__ import annotations

import httpx2
import pytest

from authwire.runtime import Runtime
from authwire.settings import Settings
from tests.calls.helpers import (
    create_method,
    create_provider,
    log_entry,
    run_test_request,
)
from tests.upstream import Upstream


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"egress_deny": "127.0.0.0/8"})


async def test_a_name_resolving_to_a_denied_network_fails_the_call(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime, upstream: Upstream
) -> None:
    # "localhost" is not itself denied, so the call path lets it through
    # without asking DNS; the connection finds it at 127.0.0.1 and refuses.
    by_name = upstream.base_url.replace("127.0.0.1", "localhost")
    provider = await create_provider(api, application_id, by_name)
    method = await create_method(
        api, application_id, provider["id"], url="/echo/by-name"
    )

    result = await run_test_request(api, application_id, method["id"], {})

    assert result["success"] is False
    assert "localhost are refused" in result["error"]
    assert "127.0.0.0/8" in result["error"]
    assert upstream.hits["/echo/by-name"] == 0
    entry = await log_entry(runtime, result["log_id"])
    assert not entry.success and "127.0.0.0/8" in entry.error


async def test_an_address_literal_is_refused_before_anything_is_sent(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime, upstream: Upstream
) -> None:
    provider = await create_provider(api, application_id, upstream.base_url)
    method = await create_method(
        api, application_id, provider["id"], url="/echo/literal"
    )

    result = await run_test_request(api, application_id, method["id"], {})

    assert result["success"] is False and "127.0.0.0/8" in result["error"]
    assert upstream.hits["/echo/literal"] == 0
    entry = await log_entry(runtime, result["log_id"])
    assert entry.attempts == 0
