"""The webhooks API: endpoints with a signing secret shown once, URL rules,
access, and the notification history that makes failures visible."""

from __future__ import annotations

import httpx2
from sqlalchemy import select

from authwire.db.models import WebhookEndpoint
from authwire.notifications.delivery import deliver_due
from authwire.notifications.outbox import AccountEvent
from authwire.runtime import Runtime
from authwire.users import create_api_token, create_user
from tests.notifications.helpers import (
    REASON,
    add_webhook,
    deliveries,
    new_account,
    record_event,
    webhooks_path,
)

HOOK = "https://hooks.example.edu/authwire"


async def stored_endpoint(runtime: Runtime, endpoint_id: int) -> WebhookEndpoint:
    async with runtime.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        return endpoint


async def test_the_signing_secret_is_shown_on_create_and_never_again(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    created = await api.post(
        webhooks_path(application_id), json={"url": HOOK, "description": "Desk bot"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert len(secret) >= 43  # 32 random bytes, url-safe base64
    assert body["url"] == HOOK
    assert body["description"] == "Desk bot"
    assert body["active"] is True
    path = f"{webhooks_path(application_id)}/{body['id']}"

    later = [
        await api.get(webhooks_path(application_id)),
        await api.get(path),
        await api.patch(path, json={"description": "Desk bot v2"}),
    ]

    for response in later:
        assert response.status_code == 200, response.text
        assert secret not in response.text
    assert "secret" not in later[1].json()
    assert later[2].json()["secret"] is None
    stored = await stored_endpoint(runtime, body["id"])
    assert secret not in stored.secret_enc
    assert runtime.keyring.decrypt(stored.secret_enc) == secret


async def test_each_endpoint_gets_its_own_secret(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    _, first = await add_webhook(api, application_id, HOOK)
    _, second = await add_webhook(api, application_id, HOOK)

    assert first != second


async def test_rotating_the_secret_returns_the_new_one_once(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, old = await add_webhook(api, application_id, HOOK)
    path = f"{webhooks_path(application_id)}/{endpoint_id}"

    rotated = await api.patch(path, json={"rotate_secret": True})

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new and new != old
    stored = await stored_endpoint(runtime, endpoint_id)
    assert runtime.keyring.decrypt(stored.secret_enc) == new
    shown = await api.get(path)
    assert new not in shown.text


BAD_URLS = [
    (
        "hooks.example.edu/authwire",
        "must be an absolute https:// URL that accepts POST requests, such as "
        "https://hooks.example.edu/authwire; http:// is accepted only for "
        "loopback hosts",
    ),
    ("ftp://hooks.example.edu/authwire", "must be an absolute https:// URL"),
    ("http://hooks.example.edu/authwire", "must use https://"),
    ("https://bot:pw@hooks.example.edu/authwire", "must not contain a user name"),
    ("https://hooks.example.edu:99999/", "is not a valid URL"),
]


async def test_a_bad_url_is_refused_per_field_with_what_to_change(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    for url, problem in BAD_URLS:
        response = await api.post(webhooks_path(application_id), json={"url": url})

        assert response.status_code == 422, url
        body = response.json()
        assert body["error"] == "invalid_input"
        assert list(body["fields"]) == ["url"]
        assert problem in body["fields"]["url"], url
        assert body["message"] == (
            f"The webhook endpoint is not valid: url {body['fields']['url']}"
        )
    async with runtime.sessions() as session:
        assert list(await session.scalars(select(WebhookEndpoint))) == []


async def test_plain_http_is_accepted_for_loopback_receivers(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://localhost/hook"):
        response = await api.post(webhooks_path(application_id), json={"url": url})
        assert response.status_code == 201, response.text


async def test_plain_http_elsewhere_needs_the_setting(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"allow_http_endpoints": True}
    )

    response = await api.post(
        webhooks_path(application_id), json={"url": "http://hooks.example.edu/x"}
    )

    assert response.status_code == 201, response.text


async def test_a_refused_change_changes_nothing(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, secret = await add_webhook(api, application_id, HOOK)
    path = f"{webhooks_path(application_id)}/{endpoint_id}"

    response = await api.patch(
        path,
        json={
            "url": "http://hooks.example.edu/x",
            "active": False,
            "rotate_secret": True,
        },
    )

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["url"]
    stored = await stored_endpoint(runtime, endpoint_id)
    assert (stored.url, stored.active) == (HOOK, True)
    assert runtime.keyring.decrypt(stored.secret_enc) == secret


async def test_an_unknown_field_is_named(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    response = await api.post(
        webhooks_path(application_id), json={"url": HOOK, "secret": "mine"}
    )

    assert response.status_code == 422
    assert response.json()["fields"] == {
        "secret": "is not a known field; check its spelling."
    }


async def test_deleting_an_endpoint_drops_what_was_waiting_for_it(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, _ = await add_webhook(api, application_id, HOOK)
    await record_event(runtime, await new_account(api, application_id))
    path = f"{webhooks_path(application_id)}/{endpoint_id}"

    deleted = await api.delete(path)

    assert deleted.status_code == 204
    assert (await api.get(path)).status_code == 404
    assert await deliveries(runtime) == []


async def test_every_webhook_route_needs_a_token(
    client: httpx2.AsyncClient, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, _ = await add_webhook(api, application_id, HOOK)
    base = webhooks_path(application_id)
    routes = [
        ("GET", base),
        ("POST", base),
        ("GET", f"{base}/{endpoint_id}"),
        ("PATCH", f"{base}/{endpoint_id}"),
        ("DELETE", f"{base}/{endpoint_id}"),
        ("GET", f"/api/v1/applications/{application_id}/notifications"),
    ]

    for method, path in routes:
        response = await client.request(
            method, path, json={"url": HOOK}, headers={"Authorization": ""}
        )
        assert response.status_code == 401, (method, path, response.text)
        assert "API token" in response.json()["message"]


async def test_someone_who_does_not_administer_the_application_sees_nothing(
    runtime: Runtime,
    client: httpx2.AsyncClient,
    api: httpx2.AsyncClient,
    application_id: int,
) -> None:
    endpoint_id, _ = await add_webhook(api, application_id, HOOK)
    async with runtime.sessions() as session:
        agent = await create_user(session, "agent", password=None, is_superuser=False)
        token = await create_api_token(session, agent, "t")
        await session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    base = webhooks_path(application_id)

    for method, path in [
        ("GET", base),
        ("POST", base),
        ("GET", f"{base}/{endpoint_id}"),
        ("PATCH", f"{base}/{endpoint_id}"),
        ("DELETE", f"{base}/{endpoint_id}"),
        ("GET", f"/api/v1/applications/{application_id}/notifications"),
    ]:
        response = await client.request(
            method, path, json={"url": HOOK}, headers=headers
        )
        assert response.status_code == 404, (method, path, response.text)
    assert len((await api.get(base)).json()["items"]) == 1


async def test_an_endpoint_of_another_application_is_not_found(
    api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, _ = await add_webhook(api, application_id, HOOK)
    other = await api.post("/api/v1/applications", json={"name": "HR Desk"})
    other_id = other.json()["id"]

    response = await api.get(f"{webhooks_path(other_id)}/{endpoint_id}")

    assert response.status_code == 404
    assert f"{webhooks_path(other_id)}" in response.json()["message"]


async def test_notifications_list_each_delivery_with_its_failure(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, _ = await add_webhook(api, application_id, HOOK)
    account_id = await new_account(api, application_id)
    await record_event(runtime, account_id)
    await deliver_due(
        runtime, transport=httpx2.MockTransport(lambda r: httpx2.Response(500))
    )
    await record_event(runtime, account_id, AccountEvent.RECOVERED, None)

    response = await api.get(f"/api/v1/applications/{application_id}/notifications")

    assert response.status_code == 200, response.text
    recovered, needs = response.json()["items"]
    assert recovered["event"] == "account.recovered"
    assert needs["event"] == "account.needs_reauthorization"
    assert needs["account_id"] == account_id
    assert needs["payload"]["reason"] == REASON
    [delivery] = needs["deliveries"]
    assert delivery["channel"] == "webhook"
    assert delivery["webhook_endpoint_id"] == endpoint_id
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1
    assert "HTTP 500" in delivery["last_error"]
    assert recovered["deliveries"][0]["attempts"] == 0


async def test_notifications_page_back_from_the_newest(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    account_id = await new_account(api, application_id)
    for _ in range(3):
        await record_event(runtime, account_id)
    path = f"/api/v1/applications/{application_id}/notifications"

    first_page = (await api.get(path, params={"limit": 2})).json()["items"]
    oldest = first_page[-1]["id"]
    second_page = (
        await api.get(path, params={"limit": 2, "before_id": oldest})
    ).json()["items"]

    ids = [n["id"] for n in first_page + second_page]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 3


async def test_the_notifications_of_one_application_are_not_shown_in_another(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    await record_event(runtime, await new_account(api, application_id))
    other = (await api.post("/api/v1/applications", json={"name": "HR Desk"})).json()

    response = await api.get(f"/api/v1/applications/{other['id']}/notifications")

    assert response.json() == {"items": []}


async def test_failed_deliveries_stay_listed_after_the_last_attempt(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"notification_max_attempts": 1}
    )
    await add_webhook(api, application_id, HOOK)
    await record_event(runtime, await new_account(api, application_id))
    await deliver_due(
        runtime, transport=httpx2.MockTransport(lambda r: httpx2.Response(404))
    )

    response = await api.get(f"/api/v1/applications/{application_id}/notifications")

    [delivery] = response.json()["items"][0]["deliveries"]
    assert delivery["status"] == "failed"
    assert "HTTP 404 Not Found" in delivery["last_error"]
