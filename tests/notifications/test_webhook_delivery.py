"""Delivering webhooks: signed, retried with backoff, given up loudly, never
sent twice by two workers. A real receiver on loopback verifies signatures;
MockTransport injects the failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
import httpx2
import pytest
from sqlalchemy import update

from authwire.db.models import NotificationDelivery
from authwire.db.types import utcnow
from authwire.notifications import delivery as delivery_module
from authwire.notifications.delivery import (
    BATCH_SIZE,
    DeliveryStatus,
    deliver_due,
    find_due,
    retry_delay,
    run_delivery_worker,
    take_leases,
)
from authwire.notifications.outbox import AccountEvent
from authwire.notifications.signing import SIGNATURE_HEADER, verify_signature
from authwire.runtime import Runtime, open_runtime
from tests.notifications.conftest import Receiver
from tests.notifications.helpers import (
    REASON,
    add_webhook,
    deliveries,
    new_account,
    only_delivery,
    record_event,
)

Handler = Callable[[httpx2.Request], httpx2.Response]


class FakeEndpoint:
    """A webhook receiver whose answers the test chooses, one per request."""

    def __init__(self, secret: str, *answers: Handler) -> None:
        self.secret = secret
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request)


def answer(status: int, text: str = "") -> Handler:
    return lambda request: httpx2.Response(status, text=text)


def time_out(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


async def webhook_setup(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, url: str
) -> tuple[int, str, int]:
    """An endpoint and one recorded event; returns endpoint id, secret, account."""
    endpoint_id, secret = await add_webhook(api, application_id, url)
    account_id = await new_account(api, application_id)
    await record_event(runtime, account_id)
    return endpoint_id, secret, account_id


async def test_webhook_reaches_a_receiver_that_verifies_its_signature(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, secret, account_id = await webhook_setup(
        runtime, api, application_id, receiver.url("desk")
    )
    receiver.expect("desk", secret)

    assert await deliver_due(runtime) == 1

    [request] = receiver.received
    assert request.verified, request.problem
    sent = await only_delivery(runtime)
    assert request.headers["authwire-event"] == "account.needs_reauthorization"
    assert request.headers["authwire-delivery"] == str(sent.id)
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.body)
    assert payload["event"] == "account.needs_reauthorization"
    assert payload["application"] == {"id": application_id, "name": "IT Desk"}
    assert payload["account"]["id"] == account_id
    assert payload["account"]["name"] == "Vendor API"
    assert payload["reason"] == REASON
    assert "client_secret" not in request.body.decode()
    assert sent.status == DeliveryStatus.DELIVERED
    assert (sent.attempts, sent.last_error, sent.locked_until) == (1, None, None)
    assert sent.delivered_at is not None
    assert secret not in caplog.text


async def test_a_delivered_webhook_is_not_sent_again(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, receiver: Receiver
) -> None:
    _, secret, _ = await webhook_setup(
        runtime, api, application_id, receiver.url("desk")
    )
    receiver.expect("desk", secret)
    await deliver_due(runtime)

    assert await deliver_due(runtime, now=utcnow() + timedelta(days=1)) == 0
    assert len(receiver.received) == 1


async def test_a_receiver_with_another_secret_refuses_and_the_delivery_is_retried(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, receiver: Receiver
) -> None:
    await webhook_setup(runtime, api, application_id, receiver.url("desk"))
    receiver.expect("desk", "whsec-not-the-one-authwire-made")

    await deliver_due(runtime)

    [request] = receiver.received
    assert not request.verified
    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.last_error is not None
    assert "HTTP 401" in pending.last_error


async def test_delivery_is_retried_with_backoff_after_a_500(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    _, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    endpoint = FakeEndpoint(
        secret,
        answer(500, "down for maintenance"),
        answer(503),
        answer(204),
    )
    first_try = utcnow()

    await deliver_due(runtime, now=first_try, transport=endpoint.transport())
    failed_once = await only_delivery(runtime)
    assert failed_once.status == DeliveryStatus.PENDING
    assert failed_once.attempts == 1
    assert failed_once.last_error == (
        "The endpoint answered HTTP 500 Internal Server Error: down for "
        "maintenance; a 2xx status is expected."
    )
    first_wait = failed_once.next_attempt_at - first_try
    assert timedelta(seconds=22.5) <= first_wait <= timedelta(seconds=30)
    assert failed_once.locked_until is None

    not_yet = first_try + timedelta(seconds=20)
    assert await deliver_due(runtime, now=not_yet, transport=endpoint.transport()) == 0
    assert len(endpoint.requests) == 1

    second_try = failed_once.next_attempt_at
    await deliver_due(runtime, now=second_try, transport=endpoint.transport())
    failed_twice = await only_delivery(runtime)
    assert failed_twice.attempts == 2
    assert failed_twice.last_error is not None
    assert "HTTP 503" in failed_twice.last_error
    second_wait = failed_twice.next_attempt_at - second_try
    assert timedelta(seconds=45) <= second_wait <= timedelta(seconds=60)

    third_try = failed_twice.next_attempt_at
    await deliver_due(runtime, now=third_try, transport=endpoint.transport())
    delivered = await only_delivery(runtime)
    assert delivered.status == DeliveryStatus.DELIVERED
    assert delivered.attempts == 3
    assert delivered.last_error is None
    assert delivered.delivered_at == third_try
    # Every attempt is signed afresh, at the time it is sent.
    for request, sent_at in zip(
        endpoint.requests, (first_try, second_try, third_try), strict=True
    ):
        verify_signature(
            secret, request.content, request.headers[SIGNATURE_HEADER], now=sent_at
        )


async def test_delivery_is_retried_with_backoff_after_a_timeout(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    _, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    endpoint = FakeEndpoint(secret, time_out)
    now = utcnow()

    await deliver_due(runtime, now=now, transport=endpoint.transport())

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.attempts == 1
    assert pending.last_error == (
        "The endpoint did not answer within 10 s (AUTHWIRE_WEBHOOK_TIMEOUT_SECONDS)."
    )
    wait = pending.next_attempt_at - now
    assert timedelta(seconds=22.5) <= wait <= timedelta(seconds=30)


async def test_a_receiver_that_stalls_is_cut_off_at_the_timeout(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"webhook_timeout_seconds": 0.05}
    )
    await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )

    async def stall(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep(30)
        return httpx2.Response(204)

    with anyio.fail_after(10):
        await deliver_due(runtime, transport=httpx2.MockTransport(stall))

    pending = await only_delivery(runtime)
    assert pending.last_error is not None
    assert "did not answer within 0.05 s" in pending.last_error


async def test_a_connection_failure_is_recorded_and_retried(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)

    await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )

    await deliver_due(runtime, transport=httpx2.MockTransport(refuse))

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.last_error is not None
    assert "ConnectError: [Errno 111] Connection refused" in pending.last_error
    assert "reachable" in pending.last_error


async def test_a_redirect_is_not_followed_and_says_to_change_the_url(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    def moved(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(301, headers={"Location": "https://new.example.edu/"})

    endpoint = FakeEndpoint("unused", moved)
    await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )

    await deliver_due(runtime, transport=endpoint.transport())

    assert len(endpoint.requests) == 1
    pending = await only_delivery(runtime)
    assert pending.last_error is not None
    assert "HTTP 301" in pending.last_error
    assert "change the endpoint's URL" in pending.last_error


async def test_delivery_fails_after_max_attempts_with_a_warning(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"notification_max_attempts": 3}
    )
    endpoint_id, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    endpoint = FakeEndpoint(secret, answer(502))
    now = utcnow()

    for _ in range(3):
        assert await deliver_due(runtime, now=now, transport=endpoint.transport()) == 1
        now = (await only_delivery(runtime)).next_attempt_at

    failed = await only_delivery(runtime)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.attempts == 3
    assert failed.last_error is not None
    assert "HTTP 502" in failed.last_error
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "authwire.notifications.delivery"
    message = warning.getMessage()
    assert f"notification delivery {failed.id} " in message
    assert f"webhook endpoint {endpoint_id}" in message
    assert "after 3 attempts" in message
    assert "HTTP 502" in message
    assert secret not in caplog.text

    a_day_later = now + timedelta(days=1)
    assert (
        await deliver_due(runtime, now=a_day_later, transport=endpoint.transport()) == 0
    )
    assert len(endpoint.requests) == 3


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour() -> None:
    waits = [retry_delay(attempt, jitter=0).total_seconds() for attempt in range(1, 11)]

    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_delay(1000, jitter=0) == timedelta(hours=1)


def test_retry_delay_jitter_shortens_the_wait_by_at_most_a_quarter() -> None:
    assert retry_delay(2, jitter=1) == timedelta(seconds=45)
    for _ in range(50):
        assert timedelta(seconds=45) <= retry_delay(2) <= timedelta(seconds=60)


async def test_a_deactivated_endpoint_is_skipped_with_the_reason(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    endpoint_id, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    response = await api.patch(
        f"/api/v1/applications/{application_id}/webhooks/{endpoint_id}",
        json={"active": False},
    )
    assert response.status_code == 200, response.text
    endpoint = FakeEndpoint(secret, answer(204))

    await deliver_due(runtime, transport=endpoint.transport())

    skipped = await only_delivery(runtime)
    assert endpoint.requests == []
    assert skipped.status == DeliveryStatus.SKIPPED
    assert skipped.last_error is not None
    assert "deactivated" in skipped.last_error


async def test_each_active_endpoint_gets_its_own_delivery(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, receiver: Receiver
) -> None:
    _, first = await add_webhook(api, application_id, receiver.url("first"))
    _, second = await add_webhook(api, application_id, receiver.url("second"))
    receiver.expect("first", first)
    receiver.expect("second", second)
    account_id = await new_account(api, application_id)
    await record_event(runtime, account_id, AccountEvent.RECOVERED, None)

    assert await deliver_due(runtime) == 2

    assert sorted(r.path for r in receiver.received) == [
        "/hooks/first",
        "/hooks/second",
    ]
    assert all(r.verified for r in receiver.received)
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1  # the same event, signed per endpoint
    assert json.loads(bodies.pop())["event"] == "account.recovered"


async def test_two_workers_that_saw_the_same_deliveries_due_never_both_take_one(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    await add_webhook(api, application_id, "https://hooks.example.edu/a")
    await add_webhook(api, application_id, "https://hooks.example.edu/b")
    await record_event(runtime, await new_account(api, application_id))
    every_delivery = sorted(d.id for d in await deliveries(runtime))
    other_process = await open_runtime(runtime.settings)
    now = utcnow()
    until = now + timedelta(minutes=5)

    # Both look before either takes: the worst interleaving, on purpose.
    try:
        async with runtime.sessions() as first, other_process.sessions() as second:
            seen_by_first = await find_due(first, now)
            seen_by_second = await find_due(second, now)
            taken_by_first = await take_leases(first, seen_by_first, now, until)
            await first.commit()
            taken_by_second = await take_leases(second, seen_by_second, now, until)
            await second.commit()
    finally:
        await other_process.aclose()

    assert sorted(seen_by_first) == every_delivery
    assert sorted(taken_by_first) == every_delivery
    assert taken_by_second == []


async def test_a_delivery_in_flight_in_one_process_is_not_taken_by_another(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    _, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    other_process = await open_runtime(runtime.settings)
    handled_meanwhile: list[int] = []

    async def while_sending(request: httpx2.Request) -> httpx2.Response:
        # The first worker holds the delivery right now; the second looks too.
        handled_meanwhile.append(
            await deliver_due(other_process, transport=httpx2.MockTransport(fail))
        )
        return httpx2.Response(204)

    def fail(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("the second worker sent a delivery it did not own")

    try:
        await deliver_due(runtime, transport=httpx2.MockTransport(while_sending))
    finally:
        await other_process.aclose()

    assert handled_meanwhile == [0]
    assert (await only_delivery(runtime)).status == DeliveryStatus.DELIVERED


async def test_a_delivery_left_by_a_dead_process_is_sent_once_its_lease_ends(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    _, secret, _ = await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    now = utcnow()
    # Another process claimed it, then died without recording anything.
    async with runtime.sessions() as session:
        await session.execute(
            update(NotificationDelivery).values(locked_until=now + timedelta(minutes=5))
        )
        await session.commit()
    endpoint = FakeEndpoint(secret, answer(204))

    assert await deliver_due(runtime, now=now, transport=endpoint.transport()) == 0
    later = now + timedelta(minutes=5, seconds=1)
    assert await deliver_due(runtime, now=later, transport=endpoint.transport()) == 1
    assert (await only_delivery(runtime)).status == DeliveryStatus.DELIVERED


async def test_two_workers_running_at_once_deliver_everything_exactly_once(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, receiver: Receiver
) -> None:
    names = ["a", "b", "c"]
    for name in names:
        _, secret = await add_webhook(api, application_id, receiver.url(name))
        receiver.expect(name, secret)
    account_id = await new_account(api, application_id)
    for _ in range(12):
        await record_event(runtime, account_id)
    expected = [d.id for d in await deliveries(runtime)]
    assert len(expected) == 36 > BATCH_SIZE
    receiver.delay = 0.005  # keep both workers' batches in flight together
    other_process = await open_runtime(runtime.settings)
    handled: dict[str, int] = {}

    async def drain(name: str, worker: Runtime) -> None:
        handled[name] = 0
        while count := await deliver_due(worker):
            handled[name] += count

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(drain, "first", runtime)
            group.start_soon(drain, "second", other_process)
    finally:
        await other_process.aclose()

    sent = sorted(int(r.headers["authwire-delivery"]) for r in receiver.received)
    assert sent == sorted(expected)
    assert all(r.verified for r in receiver.received)
    assert handled["first"] + handled["second"] == len(expected)
    statuses = {d.status for d in await deliveries(runtime)}
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_the_worker_loop_survives_a_failing_round_and_stops_when_told(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"notification_interval_seconds": 0.01}
    )
    await webhook_setup(
        runtime, api, application_id, "https://hooks.example.edu/authwire"
    )
    real_deliver_due = delivery_module.deliver_due
    rounds: list[datetime] = []

    async def first_round_fails(
        worker: Runtime, *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> int:
        rounds.append(utcnow())
        if len(rounds) == 1:
            raise RuntimeError("database unreachable")
        return await real_deliver_due(worker, transport=transport)

    monkeypatch.setattr(delivery_module, "deliver_due", first_round_fails)
    stop = anyio.Event()
    received = anyio.Event()

    def receive(request: httpx2.Request) -> httpx2.Response:
        received.set()
        return httpx2.Response(204)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: run_delivery_worker(
                    runtime, stop, transport=httpx2.MockTransport(receive)
                )
            )
            await received.wait()
            stop.set()

    assert len(rounds) >= 2
    assert "notification delivery round failed" in caplog.text
    assert "database unreachable" in caplog.text
    assert (await only_delivery(runtime)).status == DeliveryStatus.DELIVERED
