"""Request bodies that are not a JSON object are refused with what to send."""

from __future__ import annotations

import httpx2
import pytest

from authwire.web.errors import _validation_message

ACCOUNT = '{"name": "Static", "kind": "bearer", "bearer_token": "tok-123456"}'


def accounts_path(application_id: int) -> str:
    return f"/api/v1/applications/{application_id}/auth-accounts"


async def test_malformed_json_names_the_position_and_no_field(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        accounts_path(application_id),
        content='{"name": "X",}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid_input",
        "message": "The request body is not valid JSON (at character 13): "
        "Expecting property name enclosed in double quotes.",
        "fields": {},
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "application/x-www-form-urlencoded"}],
    ids=["no content type", "form content type"],
)
async def test_json_sent_without_the_json_content_type_asks_for_the_header(
    api: httpx2.AsyncClient, application_id: int, headers: dict[str, str]
) -> None:
    response = await api.post(
        accounts_path(application_id), content=ACCOUNT, headers=headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "send it as a JSON object" in body["message"]
    assert "Content-Type: application/json" in body["message"]
    assert "dictionary" not in body["message"]
    assert body["fields"] == {}


async def test_a_json_body_that_is_not_an_object_says_what_it_is(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(accounts_path(application_id), json=[ACCOUNT])
    assert response.status_code == 422, response.text
    assert response.json()["message"] == (
        "The request body must be a JSON object ({...}), not an array."
    )


def test_field_messages_keep_the_case_of_acronyms() -> None:
    assert _validation_message({"msg": "Input should be a valid URL"}) == (
        "input should be a valid URL."
    )
    assert _validation_message({"msg": "JSON input should be a string"}) == (
        "JSON input should be a string."
    )


async def test_a_body_that_is_not_utf8_is_refused_as_invalid_json(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        accounts_path(application_id),
        content=b'{"name": "\xff\x14"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid_input",
        "message": "The request body is not valid JSON: byte 10 is not UTF-8 "
        "text. Send the JSON object encoded as UTF-8.",
        "fields": {},
    }


async def test_an_empty_body_asks_for_a_json_object(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        accounts_path(application_id),
        content=b"",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["message"] == (
        "The request has no body: send a JSON object with the header "
        "Content-Type: application/json."
    )
