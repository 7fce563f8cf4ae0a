"""E-mail to the application's admins, through a real SMTP server on loopback
(aiosmtpd): plain, over STARTTLS or implicit TLS with a login, and the
failures an operator must be able to fix from the message alone."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx2
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from authwire.applications import grant_application
from authwire.db.models import Application
from authwire.notifications.delivery import DeliveryStatus, deliver_due
from authwire.notifications.outbox import AccountEvent
from authwire.runtime import Runtime
from authwire.users import create_user
from tests.notifications.conftest import Certificate, SmtpSink, free_port, start_sink
from tests.notifications.helpers import (
    REASON,
    add_webhook,
    deliveries,
    new_account,
    only_delivery,
    record_event,
)

SMTP_PASSWORD = "smtp-pass-word-42"


async def add_admin(runtime: Runtime, application_id: int, email: str) -> None:
    async with runtime.sessions() as session:
        user = await create_user(
            session, email.split("@")[0], password=None, is_superuser=False, email=email
        )
        application = await session.scalar(
            select(Application).where(Application.id == application_id)
        )
        assert application is not None
        await grant_application(session, application, user)
        await session.commit()


def use_smtp(runtime: Runtime, port: int, **settings: object) -> None:
    # model_copy does not validate: give values of the fields' own types.
    runtime.settings = runtime.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_from": "authwire@desk.example.edu",
            **settings,
        }
    )


@pytest.fixture
def tls_sink(loopback_certificate: Certificate) -> Iterator[SmtpSink]:
    """An SMTP server that requires STARTTLS and offers a login over it."""
    sink, controller = start_sink(
        tls_context=loopback_certificate.server_context(), require_starttls=True
    )
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def trust_loopback_certificate(
    loopback_certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenSSL reads SSL_CERT_FILE whenever a default context loads its CAs.
    monkeypatch.setenv("SSL_CERT_FILE", str(loopback_certificate.cert_file))


async def test_admins_get_an_email_that_says_to_generate_new_tokens(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(runtime, smtp_sink.port)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await add_admin(runtime, application_id, "bob@desk.example.edu")
    account_id = await new_account(api, application_id)
    await record_event(runtime, account_id)

    assert await deliver_due(runtime) == 2

    assert sorted(smtp_sink.recipients) == [
        ["ann@desk.example.edu"],
        ["bob@desk.example.edu"],
    ]
    message = smtp_sink.messages[0]
    assert message["From"] == "authwire@desk.example.edu"
    assert message["Subject"] == "[Authwire] IT Desk: Vendor API needs reauthorization"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    text = message.get_content()
    assert 'The auth account "Vendor API"' in text
    assert 'of the application "IT Desk" needs reauthorization' in text
    assert f"Reason: {REASON}" in text
    assert "generate new tokens" in text
    assert "authwire accounts authorize 'IT Desk' 'Vendor API' --as" in text
    assert f"/api/v1/applications/{application_id}/auth-accounts/{account_id}" in text
    assert "s3cret-client-value" not in text
    for sent in await deliveries(runtime):
        assert sent.channel == "email"
        assert sent.status == DeliveryStatus.DELIVERED
        assert (sent.attempts, sent.last_error) == (1, None)


async def test_the_recovery_email_says_calls_work_again(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(runtime, smtp_sink.port)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    account_id = await new_account(api, application_id)
    await record_event(runtime, account_id, AccountEvent.RECOVERED, None)

    await deliver_due(runtime)

    [message] = smtp_sink.messages
    assert message["Subject"] == "[Authwire] IT Desk: Vendor API is authorized again"
    text = message.get_content()
    assert "is authorized again" in text
    assert "nothing needs doing" in text
    assert "Reason:" not in text


async def test_superusers_are_told_when_the_application_has_no_admin_address(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(runtime, smtp_sink.port)
    async with runtime.sessions() as session:
        await create_user(
            session, "root", password=None, is_superuser=True, email="root@example.edu"
        )
        await session.commit()
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    assert smtp_sink.recipients == [["root@example.edu"]]


async def test_a_name_with_a_line_break_cannot_inject_mail_headers(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(runtime, smtp_sink.port)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    name = "Vendor\r\nBcc: mallory@example.com"
    await record_event(runtime, await new_account(api, application_id, name=name))

    await deliver_due(runtime)

    [message] = smtp_sink.messages
    assert smtp_sink.recipients == [["ann@desk.example.edu"]]
    assert message["Bcc"] is None
    # Long enough to be folded; the unfolded value may keep the fold's space.
    assert message["Subject"].strip() == (
        "[Authwire] IT Desk: Vendor Bcc: mallory@example.com needs reauthorization"
    )


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_email_is_sent_over_tls_with_a_login(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    loopback_certificate: Certificate,
    trust_loopback_certificate: None,
    caplog: pytest.LogCaptureFixture,
    tls: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    context = loopback_certificate.server_context()
    options = (
        {"tls_context": context, "require_starttls": True}
        if tls == "starttls"
        # aiosmtpd counts only STARTTLS as TLS for AUTH; this one is TLS too.
        else {"ssl_context": context, "auth_require_tls": False}
    )
    sink, controller = start_sink(**options)
    try:
        use_smtp(
            runtime,
            sink.port,
            smtp_starttls=tls == "starttls",
            smtp_ssl=tls == "implicit",
            smtp_username="mailer",
            smtp_password=SecretStr(SMTP_PASSWORD),
        )
        await add_admin(runtime, application_id, "ann@desk.example.edu")
        await record_event(runtime, await new_account(api, application_id))

        await deliver_due(runtime)
    finally:
        controller.stop()

    assert sink.logins == [("mailer", SMTP_PASSWORD)]
    assert len(sink.messages) == 1
    assert (await only_delivery(runtime)).status == DeliveryStatus.DELIVERED
    assert SMTP_PASSWORD not in caplog.text


async def test_a_refused_smtp_login_names_the_settings_and_not_the_password(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    tls_sink: SmtpSink,
    trust_loopback_certificate: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    use_smtp(
        runtime,
        tls_sink.port,
        smtp_starttls=True,
        smtp_username="mailer",
        smtp_password=SecretStr("not-the-password"),
    )
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.attempts == 1
    assert pending.last_error is not None
    assert "refused the login of 'mailer' (535" in pending.last_error
    assert "AUTHWIRE_SMTP_PASSWORD" in pending.last_error
    assert "not-the-password" not in pending.last_error
    assert "not-the-password" not in caplog.text
    assert tls_sink.messages == []


async def test_an_untrusted_smtp_certificate_fails_the_attempt_and_it_is_retried(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, tls_sink: SmtpSink
) -> None:
    use_smtp(runtime, tls_sink.port, smtp_starttls=True)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.last_error is not None
    assert pending.last_error.startswith(
        f"TLS with the SMTP server 127.0.0.1:{tls_sink.port} failed"
    )
    assert "CERTIFICATE_VERIFY_FAILED" in pending.last_error
    assert tls_sink.messages == []


async def test_a_server_without_starttls_is_refused_with_what_to_change(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(runtime, smtp_sink.port, smtp_starttls=True)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.last_error is not None
    assert "does not offer STARTTLS" in pending.last_error
    assert "AUTHWIRE_SMTP_SSL=true" in pending.last_error
    assert smtp_sink.messages == []


async def test_an_unreachable_smtp_server_names_host_and_port_settings(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int
) -> None:
    nothing_listens = free_port()
    use_smtp(runtime, nothing_listens)
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    pending = await only_delivery(runtime)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.last_error is not None
    assert pending.last_error.startswith(
        f"Could not reach the SMTP server 127.0.0.1:{nothing_listens}"
    )
    assert "AUTHWIRE_SMTP_HOST and AUTHWIRE_SMTP_PORT" in pending.last_error


async def test_without_smtp_email_is_skipped_with_the_setting_to_change(
    runtime: Runtime,
    api: httpx2.AsyncClient,
    application_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert runtime.settings.smtp_host is None
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await add_admin(runtime, application_id, "bob@desk.example.edu")
    await add_webhook(api, application_id, "https://hooks.example.edu/authwire")
    await record_event(runtime, await new_account(api, application_id))

    handled = await deliver_due(
        runtime, transport=httpx2.MockTransport(lambda r: httpx2.Response(204))
    )

    assert handled == 3
    by_channel = {d.channel: d for d in await deliveries(runtime)}
    assert by_channel["webhook"].status == DeliveryStatus.DELIVERED
    emails = [d for d in await deliveries(runtime) if d.channel == "email"]
    assert {d.status for d in emails} == {DeliveryStatus.SKIPPED}
    for skipped in emails:
        assert skipped.last_error is not None
        assert "SMTP is not configured (AUTHWIRE_SMTP_HOST)" in skipped.last_error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 notification e-mail(s) not sent" in warnings[0].getMessage()
    assert "AUTHWIRE_SMTP_HOST" in warnings[0].getMessage()


async def test_a_login_on_a_server_that_offers_none_says_what_to_change(
    runtime: Runtime, api: httpx2.AsyncClient, application_id: int, smtp_sink: SmtpSink
) -> None:
    use_smtp(
        runtime,
        smtp_sink.port,
        smtp_username="mailer",
        smtp_password=SecretStr(SMTP_PASSWORD),
    )
    await add_admin(runtime, application_id, "ann@desk.example.edu")
    await record_event(runtime, await new_account(api, application_id))

    await deliver_due(runtime)

    pending = await only_delivery(runtime)
    assert pending.last_error is not None
    assert "offers no login (AUTH)" in pending.last_error
    assert "unset AUTHWIRE_SMTP_USERNAME" in pending.last_error
    assert smtp_sink.logins == []
