"""Creating providers and methods through the API, for the call tests."""

from __future__ import annotations

from typing import Any

import httpx2


async def create_provider(
    api: httpx2.AsyncClient, application_id: int, base_url: str, **fields: Any
) -> dict[str, Any]:
    response = await api.post(
        f"/api/v1/applications/{application_id}/web-service-providers",
        json={"name": fields.pop("name", "Upstream"), "base_url": base_url, **fields},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_method(
    api: httpx2.AsyncClient, application_id: int, provider_id: int, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Read",
        "provider_id": provider_id,
        "http_method": "GET",
        "url": "/echo/items",
        **fields,
    }
    response = await api.post(
        f"/api/v1/applications/{application_id}/web-service-methods", json=body
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def run_test_request(
    api: httpx2.AsyncClient,
    application_id: int,
    method_id: int,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await api.post(
        f"/api/v1/applications/{application_id}/web-service-methods/{method_id}/test",
        json={"parameters": parameters} if parameters is not None else None,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def log_entry(runtime: Any, entry_id: int) -> Any:
    from authwire.db.models import WebServiceLog

    async with runtime.sessions() as session:
        return await session.get(WebServiceLog, entry_id)
