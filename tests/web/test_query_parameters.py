"""Every API route refuses a query parameter it does not read."""

from __future__ import annotations

import httpx2


async def test_a_mistyped_list_parameter_is_refused_naming_the_right_ones(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    path = f"/api/v1/applications/{application_id}/notifications"

    response = await api.get(path, params={"limt": "5"})

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    problem = body["fields"]["limt"]
    assert "is not a parameter of this route" in problem
    assert "limit" in problem
    assert (await api.get(path, params={"limit": "5"})).status_code == 200


async def test_a_route_without_parameters_says_it_takes_none(
    api: httpx2.AsyncClient,
) -> None:
    response = await api.get("/api/v1/applications", params={"name": "IT Desk"})

    assert response.status_code == 422, response.text
    assert "takes none" in response.json()["fields"]["name"]


async def test_without_a_token_the_answer_is_401_whatever_the_parameters(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.get("/api/v1/applications", params={"bogus": "1"})

    assert response.status_code == 401
