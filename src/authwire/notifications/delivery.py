"""The delivery worker: sends what the outbox recorded, and retries failures.

Every process may run the worker; they coordinate only through the database.
A delivery is claimed by writing a lease (`locked_until`) in an UPDATE whose
WHERE clause re-checks that it is still pending and unleased, so of two
processes that saw it due only one gets it back from RETURNING. On
PostgreSQL the candidates are also picked with `FOR UPDATE SKIP LOCKED`, so
that workers pass over each other's rows instead of queueing on them. A
process that dies while sending leaves its lease to expire, after which
another sends the delivery again: delivery is at least once, and receivers
tell repeats apart by `Authwire-Delivery`.

A failed attempt is retried after 30 s, then 1, 2, 4 ... minutes up to an
hour, each wait shortened by up to a quarter at random so that deliveries
that failed together do not retry in lockstep. After
`AUTHWIRE_NOTIFICATION_MAX_ATTEMPTS` attempts the delivery is `failed`, with
a WARNING in the log; the API lists it with its last error either way.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import anyio
import httpx2
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import Notification, NotificationDelivery, WebhookEndpoint
from authwire.db.types import utcnow
from authwire.errors import AuthwireError
from authwire.notifications.email import compose_message, send_email
from authwire.notifications.webhook import post_webhook, timeout_error
from authwire.runtime import Runtime
from authwire.secrets import Secret

log = logging.getLogger(__name__)

BATCH_SIZE = 20
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
# Longer than any one attempt may take (a webhook is bounded by its timeout;
# an SMTP conversation makes several round trips, each bounded by its own),
# and short enough that a dead process's deliveries go out within minutes.
MIN_LEASE = timedelta(minutes=5)

SMTP_NOT_CONFIGURED = (
    "SMTP is not configured (AUTHWIRE_SMTP_HOST), so this e-mail was not sent; "
    "set AUTHWIRE_SMTP_HOST to send e-mail about later events."
)
ENDPOINT_INACTIVE = (
    "The webhook endpoint was deactivated before this notification was sent."
)


class DeliveryStatus(StrEnum):
    # Waiting for its first attempt or for a retry at `next_attempt_at`.
    PENDING = "pending"
    # The endpoint answered 2xx, or the SMTP server accepted the message.
    DELIVERED = "delivered"
    # Every attempt failed; `last_error` says how the last one did.
    FAILED = "failed"
    # Not sent, on purpose: no SMTP server, or the endpoint was deactivated.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class _Job:
    """A claimed delivery, with what sending it needs."""

    id: int
    channel: str
    attempts: int
    event: str
    payload: str
    email: str | None
    endpoint_id: int | None
    url: str | None
    secret_enc: str | None
    endpoint_active: bool

    @property
    def target(self) -> str:
        if self.channel == "webhook":
            return f"webhook endpoint {self.endpoint_id}"
        return f"e-mail to {self.email}"


@dataclass(frozen=True)
class _Outcome:
    """What one attempt came to; FAILED here means this attempt, and
    `_record` decides whether the delivery is retried or given up."""

    status: DeliveryStatus
    error: str | None = None


def retry_delay(attempts: int, *, jitter: float | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt.

    `jitter` in [0, 1] takes that share of a quarter off the wait; random
    unless given (tests give it).
    """
    if jitter is None:
        jitter = random.random()  # noqa: S311 (spreading load, not a secret)
    # Capped so that a large AUTHWIRE_NOTIFICATION_MAX_ATTEMPTS cannot overflow
    # timedelta; 30 s * 2**7 is already past the hour.
    doublings = min(max(0, attempts - 1), 16)
    doubled = RETRY_BASE * (1 << doublings)
    return min(doubled, RETRY_MAX) * (1 - 0.25 * jitter)


def _lease(runtime: Runtime) -> timedelta:
    settings = runtime.settings
    slowest = max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds)
    return max(MIN_LEASE, timedelta(seconds=10 * slowest))


def _claimable(now: datetime) -> ColumnElement[bool]:
    delivery = NotificationDelivery
    return and_(
        delivery.status == DeliveryStatus.PENDING,
        delivery.next_attempt_at <= now,
        or_(delivery.locked_until.is_(None), delivery.locked_until <= now),
    )


async def find_due(session: AsyncSession, now: datetime) -> list[int]:
    """Ids of deliveries to claim, oldest due first (the first half of a claim).

    On PostgreSQL the rows stay locked until the session's transaction ends,
    and rows another worker has locked are skipped rather than waited for.
    """
    rows = await session.scalars(
        select(NotificationDelivery.id)
        .where(_claimable(now))
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(BATCH_SIZE)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def take_leases(
    session: AsyncSession, candidates: list[int], now: datetime, until: datetime
) -> list[int]:
    """Lease those of `candidates` that are still free; returns their ids.

    The WHERE clause checks again what `find_due` saw, inside the UPDATE: on
    SQLite, which has no row locks, another worker may have taken a candidate
    since, and then this worker must not get it too.
    """
    rows = await session.scalars(
        update(NotificationDelivery)
        .where(NotificationDelivery.id.in_(candidates), _claimable(now))
        .values(locked_until=until)
        .returning(NotificationDelivery.id),
        execution_options={"synchronize_session": False},
    )
    return list(rows)


async def _claim(runtime: Runtime, now: datetime) -> list[_Job]:
    delivery = NotificationDelivery
    async with runtime.sessions() as session:
        candidates = await find_due(session, now)
        if not candidates:
            return []
        claimed = await take_leases(session, candidates, now, now + _lease(runtime))
        await session.commit()
        if not claimed:
            return []

        rows = await session.execute(
            select(
                delivery.id,
                delivery.channel,
                delivery.attempts,
                Notification.event,
                Notification.payload,
                delivery.email,
                delivery.webhook_endpoint_id,
                WebhookEndpoint.url,
                WebhookEndpoint.secret_enc,
                WebhookEndpoint.active,
            )
            .join(Notification, Notification.id == delivery.notification_id)
            .outerjoin(
                WebhookEndpoint, WebhookEndpoint.id == delivery.webhook_endpoint_id
            )
            .where(delivery.id.in_(claimed))
            .order_by(delivery.id)
        )
        return [
            _Job(
                id=row[0],
                channel=row[1],
                attempts=row[2],
                event=row[3],
                payload=row[4],
                email=row[5],
                endpoint_id=row[6],
                url=row[7],
                secret_enc=row[8],
                endpoint_active=bool(row[9]),
            )
            for row in rows
        ]


async def _send(
    runtime: Runtime, http_client: httpx2.AsyncClient, job: _Job, now: datetime
) -> _Outcome:
    settings = runtime.settings
    if job.channel == "webhook":
        if not job.endpoint_active or job.url is None or job.secret_enc is None:
            return _Outcome(DeliveryStatus.SKIPPED, ENDPOINT_INACTIVE)
        secret = Secret(runtime.keyring.decrypt(job.secret_enc))
        timeout = settings.webhook_timeout_seconds
        try:
            # The whole exchange, not each read: a receiver that trickles its
            # answer must not hold the delivery past its lease.
            with anyio.fail_after(timeout):
                await post_webhook(
                    http_client,
                    job.url,
                    secret,
                    job.payload.encode(),
                    event=job.event,
                    delivery_id=job.id,
                    now=now,
                )
        except TimeoutError as exc:
            raise timeout_error(timeout) from exc
        return _Outcome(DeliveryStatus.DELIVERED)

    if settings.smtp_host is None:
        return _Outcome(DeliveryStatus.SKIPPED, SMTP_NOT_CONFIGURED)
    assert job.email is not None
    message = compose_message(json.loads(job.payload), to=job.email, settings=settings)
    await send_email(settings, message)
    return _Outcome(DeliveryStatus.DELIVERED)


async def _attempt(
    runtime: Runtime, http_client: httpx2.AsyncClient, job: _Job, now: datetime
) -> _Outcome:
    """Send one job and record what happened; one failure never stops others."""
    try:
        outcome = await _send(runtime, http_client, job, now)
    except AuthwireError as exc:
        outcome = _Outcome(DeliveryStatus.FAILED, exc.message)
    except Exception as exc:
        log.exception("notification delivery %s: unexpected error", job.id)
        outcome = _Outcome(
            DeliveryStatus.FAILED,
            f"Unexpected error {type(exc).__name__}; the service log has details.",
        )
    await _record(runtime, job, outcome, now)
    return outcome


async def _record(
    runtime: Runtime, job: _Job, outcome: _Outcome, now: datetime
) -> None:
    values: dict[str, object] = {"locked_until": None, "last_error": outcome.error}
    max_attempts = runtime.settings.notification_max_attempts
    if outcome.status is DeliveryStatus.DELIVERED:
        values.update(
            status=outcome.status, attempts=job.attempts + 1, delivered_at=now
        )
        log.info("notification delivery %s: delivered (%s)", job.id, job.target)
    elif outcome.status is DeliveryStatus.SKIPPED:
        values.update(status=outcome.status)
        log.info("notification delivery %s: skipped (%s)", job.id, job.target)
    elif job.attempts + 1 >= max_attempts:
        values.update(status=DeliveryStatus.FAILED, attempts=job.attempts + 1)
        log.warning(
            "notification delivery %s (%s, notification event %s) failed after "
            "%d attempts and is given up: %s",
            job.id,
            job.target,
            job.event,
            job.attempts + 1,
            outcome.error,
        )
    else:
        next_attempt_at = now + retry_delay(job.attempts + 1)
        values.update(attempts=job.attempts + 1, next_attempt_at=next_attempt_at)
        log.info(
            "notification delivery %s (%s) attempt %d of %d failed, next at %s: %s",
            job.id,
            job.target,
            job.attempts + 1,
            max_attempts,
            next_attempt_at.isoformat(timespec="seconds"),
            outcome.error,
        )

    async with runtime.sessions() as session:
        await session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == job.id)
            .values(**values),
            execution_options={"synchronize_session": False},
        )
        await session.commit()


async def deliver_due(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> int:
    """Send the deliveries that are due and record each outcome.

    Returns how many deliveries this call handled (sent, failed or skipped);
    at most `BATCH_SIZE`, so a caller that gets a full batch should call
    again. `now` stands for the clock in tests; `transport` replaces the
    network for fault injection.
    """
    now = now or utcnow()
    jobs = await _claim(runtime, now)
    if not jobs:
        return 0

    outcomes: list[_Outcome] = []

    async def attempt(http_client: httpx2.AsyncClient, job: _Job) -> None:
        outcomes.append(await _attempt(runtime, http_client, job, now))

    timeout = runtime.settings.webhook_timeout_seconds
    async with httpx2.AsyncClient(
        timeout=timeout, transport=transport, follow_redirects=False
    ) as http_client:
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(attempt, http_client, job)

    unsent_email = sum(1 for o in outcomes if o.error == SMTP_NOT_CONFIGURED)
    if unsent_email:
        log.warning(
            "%d notification e-mail(s) not sent: SMTP is not configured; set "
            "AUTHWIRE_SMTP_HOST (and the other AUTHWIRE_SMTP_* settings) to "
            "send them for later events",
            unsent_email,
        )
    return len(jobs)


async def run_delivery_worker(
    runtime: Runtime,
    stop: anyio.Event,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> None:
    """Deliver notifications every `AUTHWIRE_NOTIFICATION_INTERVAL_SECONDS`
    until `stop` is set. A failing round (the database away, say) is logged
    and the next round tries again; a full batch is followed at once by the
    next, so that a backlog drains without waiting."""
    interval = runtime.settings.notification_interval_seconds
    log.info("notification delivery worker started (every %g s)", interval)
    while not stop.is_set():
        handled = 0
        try:
            handled = await deliver_due(runtime, transport=transport)
        except Exception:
            log.exception(
                "notification delivery round failed; trying again in %g s", interval
            )
        if handled >= BATCH_SIZE:
            continue
        with anyio.move_on_after(interval):
            await stop.wait()
    log.info("notification delivery worker stopped")
