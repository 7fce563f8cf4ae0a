"""Ids in API paths that no row could have are refused before the database."""

from __future__ import annotations

import httpx2
import pytest

from authwire.web.api.ids import MAX_ROW_ID


@pytest.mark.parametrize("bad_id", ["0", "-3", str(MAX_ROW_ID + 1), str(2**70)])
async def test_an_application_id_no_row_can_have_gets_a_422_naming_it(
    api: httpx2.AsyncClient, bad_id: str
) -> None:
    response = await api.delete(f"/api/v1/applications/{bad_id}")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert set(body["fields"]) == {"application_id"}
    assert f"a whole number from 1 to {MAX_ROW_ID}" in body["message"]


@pytest.mark.parametrize(
    ("collection", "parameter"),
    [
        ("auth-accounts", "account_id"),
        ("webhooks", "endpoint_id"),
        ("web-service-providers", "provider_id"),
        ("web-service-methods", "method_id"),
    ],
)
async def test_an_id_too_large_for_its_column_is_refused_for_each_resource(
    api: httpx2.AsyncClient, application_id: int, collection: str, parameter: str
) -> None:
    path = f"/api/v1/applications/{application_id}/{collection}/{2**63}"
    response = await api.get(path)
    assert response.status_code == 422, response.text
    assert set(response.json()["fields"]) == {parameter}


async def test_the_largest_id_is_accepted_and_simply_not_found(
    api: httpx2.AsyncClient,
) -> None:
    response = await api.get(f"/api/v1/applications/{MAX_ROW_ID}")
    assert response.status_code == 404, response.text
