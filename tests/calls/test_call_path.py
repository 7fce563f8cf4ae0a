"""The call path against a misbehaving web service on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx2
import pytest

from authwire.runtime import Runtime
from tests.calls.helpers import (
    create_method,
    create_provider,
    log_entry,
    run_test_request,
)
from tests.upstream import Upstream


@pytest.fixture
async def provider_id(
    api: httpx2.AsyncClient, application_id: int, upstream: Upstream
) -> int:
    return int((await create_provider(api, application_id, upstream.base_url))["id"])


async def method_id(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, **fields: Any
) -> int:
    return int((await create_method(api, application_id, provider_id, **fields))["id"])


async def test_templates_fill_the_url_query_headers_and_body(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, runtime: Runtime
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        http_method="POST",
        url="/echo/tickets/{{ ticket_id | urlencode_component }}",
        query=[{"name": "expand", "value": "{{ expand }}"}],
        headers=[{"name": "X-Ticket", "value": "T-{{ ticket_id }}"}],
        content_type="json",
        body='{"title": {{ title | tojson }}, "priority": {{ priority }}}',
    )
    result = await run_test_request(
        api,
        application_id,
        mid,
        {"ticket_id": "a/b 1", "expand": "all", "title": 'Printer "3"', "priority": 2},
    )
    assert result["success"] is True, result
    echoed = json.loads(result["body"])
    assert echoed["raw_path"] == "/echo/tickets/a%2Fb%201"
    assert echoed["query"] == {"expand": "all"}
    assert echoed["headers"]["x-ticket"] == "T-a/b 1"
    assert echoed["headers"]["content-type"] == "application/json"
    assert json.loads(echoed["body"]) == {"title": 'Printer "3"', "priority": 2}

    entry = await log_entry(runtime, result["log_id"])
    assert entry.success and entry.source == "test" and entry.response_status == 200
    assert entry.request_method == "POST"
    assert "/echo/tickets/a%2Fb%201?expand=all" in entry.request_url


async def test_saved_sample_parameters_serve_test_request(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url="/echo/{{ item }}",
        sample_parameters={"item": "sample-7"},
    )
    result = await run_test_request(api, application_id, mid)
    assert json.loads(result["body"])["path"] == "/echo/sample-7"


async def test_a_missing_parameter_is_reported_before_anything_is_sent(
    api: httpx2.AsyncClient,
    application_id: int,
    provider_id: int,
    runtime: Runtime,
    upstream: Upstream,
) -> None:
    mid = await method_id(
        api, application_id, provider_id, url="/echo/never/{{ ticket_id }}"
    )
    result = await run_test_request(api, application_id, mid, {"other": 1})
    assert result["success"] is False
    assert result["status"] is None
    assert "the URL of web service method 'Read'" in result["error"]
    assert "'ticket_id' is undefined" in result["error"]
    assert upstream.hits["/echo/never/"] == 0
    entry = await log_entry(runtime, result["log_id"])
    assert not entry.success and entry.attempts == 0 and "ticket_id" in entry.error


async def test_a_json_body_that_renders_invalid_is_refused_before_sending(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        http_method="POST",
        content_type="json",
        body='{"title": "{{ title }}"}',
    )
    result = await run_test_request(api, application_id, mid, {"title": 'say "hi"'})
    assert result["success"] is False
    assert "did not render to valid JSON" in result["error"]
    assert "tojson" in result["error"]


async def test_a_slow_upstream_fails_at_the_methods_timeout(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api, application_id, provider_id, url="/slow", timeout_seconds=0.3
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False
    assert "did not answer within 0.3 seconds" in result["error"]


async def test_a_huge_answer_stops_being_read_past_the_cap(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, runtime: Runtime
) -> None:
    runtime.caller._settings = runtime.settings.model_copy(  # noqa: SLF001
        update={"call_response_max_bytes": 200_000, "log_body_max_bytes": 1000}
    )
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url="/huge",
        query=[{"name": "bytes", "value": "{{ size }}"}],
    )
    result = await run_test_request(api, application_id, mid, {"size": 50_000_000})
    assert result["success"] is False
    assert result["body_truncated"] is True
    assert "larger than 200000 bytes" in result["error"]
    entry = await log_entry(runtime, result["log_id"])
    assert len(entry.response_body) == 1000
    assert entry.response_body_truncated
    assert entry.response_body_size > 200_000

    small = await run_test_request(api, application_id, mid, {"size": 5000})
    assert small["success"] is True and small["body_size"] == 5000
    entry = await log_entry(runtime, small["log_id"])
    assert entry.response_body_size == 5000 and len(entry.response_body) == 1000


async def test_429_with_retry_after_is_retried_for_a_get(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url=f"/flaky/{uuid.uuid4().hex}",
        query=[
            {"name": "status", "value": "429"},
            {"name": "retry_after", "value": "1"},
        ],
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is True
    assert result["attempts"] == 2
    assert result["duration_ms"] >= 1000


async def test_a_post_is_not_replayed_unless_the_admin_says_so(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, upstream: Upstream
) -> None:
    key = uuid.uuid4().hex
    plain = await method_id(
        api,
        application_id,
        provider_id,
        name="Create",
        http_method="POST",
        url=f"/flaky/{key}",
    )
    result = await run_test_request(api, application_id, plain, {})
    assert result["status"] == 503 and result["attempts"] == 1
    assert upstream.hits[f"flaky:{key}"] == 1

    replayed = await method_id(
        api,
        application_id,
        provider_id,
        name="Create again",
        http_method="POST",
        url=f"/flaky/{uuid.uuid4().hex}",
        retry_enabled=True,
    )
    result = await run_test_request(api, application_id, replayed, {})
    assert result["success"] is True and result["attempts"] == 2


async def test_retries_stop_at_the_methods_limit(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url="/status/503",
        max_retries=1,
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False
    assert result["status"] == 503
    assert result["attempts"] == 2


async def test_a_retry_after_longer_than_the_limit_is_not_waited_for(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url="/status/429",
        query=[{"name": "retry_after", "value": "3600"}],
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["status"] == 429 and result["attempts"] == 1


async def test_a_non_json_answer_is_passed_through(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(api, application_id, provider_id, url="/text")
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is True
    assert result["body"] == "plain words, not JSON"
    assert result["headers"]["content-type"].startswith("text/plain")


async def test_an_upstream_that_closes_the_connection_fails_the_call(
    api: httpx2.AsyncClient, application_id: int, upstream: Upstream
) -> None:
    provider = await create_provider(
        api, application_id, upstream.closing_url, name="Closer"
    )
    mid = await method_id(api, application_id, provider["id"], url="/anything")
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False
    assert result["status"] is None
    assert "request to the web service failed" in result["error"]


async def test_a_4xx_or_5xx_answer_is_an_unsuccessful_call(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, runtime: Runtime
) -> None:
    mid = await method_id(api, application_id, provider_id, url="/status/404")
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False and result["status"] == 404
    entry = await log_entry(runtime, result["log_id"])
    assert not entry.success and entry.response_status == 404


async def test_an_inactive_provider_fails_at_once(
    api: httpx2.AsyncClient,
    application_id: int,
    provider_id: int,
    upstream: Upstream,
) -> None:
    mid = await method_id(api, application_id, provider_id, url="/echo/inactive")
    await api.patch(
        f"/api/v1/applications/{application_id}/web-service-providers/{provider_id}",
        json={"active": False},
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False
    assert "provider 'Upstream' is inactive" in result["error"]
    assert upstream.hits["/echo/inactive"] == 0


async def test_an_inactive_account_fails_at_once_with_401(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, upstream: Upstream
) -> None:
    account = await api.post(
        f"/api/v1/applications/{application_id}/auth-accounts",
        json={
            "name": "Static",
            "kind": "bearer",
            "bearer_token": "tok-123456",
            "active": False,
        },
    )
    mid = await method_id(
        api,
        application_id,
        provider_id,
        url="/echo/static",
        auth_account_id=account.json()["id"],
    )
    result = await run_test_request(api, application_id, mid, {})
    assert result["success"] is False and result["status"] == 401
    assert "'Static' is inactive" in result["error"]
    assert upstream.hits["/echo/static"] == 0


async def test_moving_a_provider_moves_its_methods(
    api: httpx2.AsyncClient,
    application_id: int,
    upstream: Upstream,
) -> None:
    provider = await create_provider(
        api, application_id, "http://127.0.0.1:9/sandbox", name="Moving"
    )
    mid = await method_id(api, application_id, provider["id"], url="/echo/moved")
    before = await run_test_request(api, application_id, mid, {})
    assert before["success"] is False
    await api.patch(
        f"/api/v1/applications/{application_id}/web-service-providers/{provider['id']}",
        json={"base_url": upstream.base_url},
    )
    after = await run_test_request(api, application_id, mid, {})
    assert after["success"] is True


async def test_an_admin_written_content_type_is_sent_once(
    api: httpx2.AsyncClient, application_id: int, provider_id: int
) -> None:
    mid = await method_id(
        api,
        application_id,
        provider_id,
        http_method="POST",
        headers=[{"name": "content-type", "value": "application/vnd.api+json"}],
        content_type="json",
        body="{}",
    )
    result = await run_test_request(api, application_id, mid, {})
    echoed = json.loads(result["body"])
    assert echoed["headers"]["content-type"] == "application/vnd.api+json"


async def test_concurrent_calls_each_get_the_log_entry_of_their_own_request(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, runtime: Runtime
) -> None:
    # Calls that arrive together share one method load and one multi-row log
    # INSERT; each must still be told the id of its own entry.
    mid = await method_id(api, application_id, provider_id, url="/echo/n/{{ n }}")
    results = await asyncio.gather(
        *(run_test_request(api, application_id, mid, {"n": n}) for n in range(40))
    )

    assert len({result["log_id"] for result in results}) == 40
    for n, result in enumerate(results):
        assert result["success"] is True, result
        entry = await log_entry(runtime, result["log_id"])
        assert entry.request_url.endswith(f"/echo/n/{n}")
