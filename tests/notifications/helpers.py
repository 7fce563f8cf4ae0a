"""Recording account events and reading deliveries, for the notification tests."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select

from authwire.db.models import AuthAccount, NotificationDelivery
from authwire.notifications.outbox import AccountEvent, enqueue_account_event
from authwire.runtime import Runtime
from tests.helpers import create_account

REASON = "invalid_grant: Token has been expired or revoked."


def webhooks_path(application_id: int) -> str:
    return f"/api/v1/applications/{application_id}/webhooks"


async def add_webhook(
    api: httpx2.AsyncClient, application_id: int, url: str, **fields: Any
) -> tuple[int, str]:
    """Add an endpoint through the API; returns its id and signing secret."""
    response = await api.post(
        webhooks_path(application_id), json={"url": url, **fields}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return int(body["id"]), str(body["secret"])


async def new_account(
    api: httpx2.AsyncClient, application_id: int, name: str = "Vendor API"
) -> int:
    return int((await create_account(api, application_id, name=name))["id"])


async def record_event(
    runtime: Runtime,
    account_id: int,
    event: AccountEvent = AccountEvent.NEEDS_REAUTHORIZATION,
    reason: str | None = REASON,
) -> int:
    """What the token keeper does when an account changes: the outbox entry."""
    async with runtime.sessions() as session:
        account = await session.get(AuthAccount, account_id)
        assert account is not None
        notification = await enqueue_account_event(session, account, event, reason)
        await session.commit()
        return notification.id


async def deliveries(runtime: Runtime) -> list[NotificationDelivery]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(NotificationDelivery).order_by(NotificationDelivery.id)
        )
        return list(rows)


async def only_delivery(runtime: Runtime) -> NotificationDelivery:
    [delivery] = await deliveries(runtime)
    return delivery
