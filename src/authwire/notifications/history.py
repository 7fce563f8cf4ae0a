"""What Authwire told admins, and whether it arrived.

Each notification is listed with every one of its deliveries: status,
attempts, next attempt and last error. A webhook that keeps failing, or e-mail
that is not sent because SMTP is not configured, shows here, so that no
failure goes unseen even by admins who never read the service log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import Notification, NotificationDelivery


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    webhook_endpoint_id: int | None
    email: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class NotificationOut(BaseModel):
    id: int
    event: str
    account_id: int | None
    created_at: datetime
    payload: dict[str, Any]
    deliveries: list[DeliveryOut]


async def recent_notifications(
    session: AsyncSession,
    application_id: int,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[NotificationOut]:
    """The newest notifications first; `before_id` pages further back."""
    query = (
        select(Notification)
        .where(Notification.application_id == application_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    notifications = list(await session.scalars(query))
    if not notifications:
        return []

    deliveries: dict[int, list[DeliveryOut]] = {n.id: [] for n in notifications}
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id.in_(deliveries))
        .order_by(NotificationDelivery.id)
    )
    for row in rows:
        deliveries[row.notification_id].append(DeliveryOut.model_validate(row))
    return [
        NotificationOut(
            id=n.id,
            event=n.event,
            account_id=n.account_id,
            created_at=n.created_at,
            payload=json.loads(n.payload),
            deliveries=deliveries[n.id],
        )
        for n in notifications
    ]
