"""Recording account events for delivery.

An event is written in the same transaction as the status change it reports,
with one delivery row per webhook endpoint and per e-mail address; the
delivery worker sends them later and retries failures. So a committed status
change always has its notification, and a rolled-back one never does.
"""

from __future__ import annotations

import json
import logging
import uuid
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import (
    Application,
    ApplicationAdmin,
    AuthAccount,
    Notification,
    NotificationDelivery,
    User,
    WebhookEndpoint,
)
from authwire.db.types import utcnow

log = logging.getLogger(__name__)


class AccountEvent(StrEnum):
    NEEDS_REAUTHORIZATION = "account.needs_reauthorization"
    RECOVERED = "account.recovered"


async def admin_emails(session: AsyncSession, application_id: int) -> list[str]:
    """The addresses of the application's admins; superusers when none has one."""
    granted = await session.scalars(
        select(User.email)
        .join(ApplicationAdmin, ApplicationAdmin.user_id == User.id)
        .where(
            ApplicationAdmin.application_id == application_id, User.email.is_not(None)
        )
    )
    emails = sorted({email for email in granted if email})
    if emails:
        return emails
    superusers = await session.scalars(
        select(User.email).where(User.is_superuser.is_(True), User.email.is_not(None))
    )
    return sorted({email for email in superusers if email})


async def enqueue_account_event(
    session: AsyncSession,
    account: AuthAccount,
    event: AccountEvent,
    reason: str | None,
) -> Notification:
    """Add the event and its deliveries to the session's transaction."""
    application = await session.get(Application, account.application_id)
    assert application is not None
    now = utcnow()
    payload = {
        "id": str(uuid.uuid4()),
        "event": event.value,
        "occurred_at": now.isoformat(),
        "application": {"id": application.id, "name": application.name},
        "account": {
            "id": account.id,
            "name": account.name,
            "kind": account.kind,
            "status": account.status,
            "status_reason": account.status_reason,
        },
        "reason": reason,
    }
    notification = Notification(
        application_id=account.application_id,
        account_id=account.id,
        event=event.value,
        payload=json.dumps(payload, sort_keys=True),
        created_at=now,
    )
    session.add(notification)
    await session.flush()

    endpoints = await session.scalars(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.application_id == account.application_id,
            WebhookEndpoint.active.is_(True),
        )
    )
    deliveries = [
        NotificationDelivery(
            notification_id=notification.id,
            channel="webhook",
            webhook_endpoint_id=endpoint_id,
            next_attempt_at=now,
        )
        for endpoint_id in endpoints
    ]
    deliveries += [
        NotificationDelivery(
            notification_id=notification.id,
            channel="email",
            email=email,
            next_attempt_at=now,
        )
        for email in await admin_emails(session, account.application_id)
    ]
    session.add_all(deliveries)
    log.info(
        "notification %s (%s) for auth account %s: %d deliveries queued",
        notification.id,
        event.value,
        account.id,
        len(deliveries),
    )
    return notification
