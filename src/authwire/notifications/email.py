"""The e-mail that tells an admin about an account event, and sending it.

The message is plain text, written for someone who reads it on a phone: which
account of which application, what the provider said, and what to do. It is
built from the notification's payload alone, so that it says what the webhook
says and never holds a secret.

Sending uses the standard library's `smtplib` in a worker thread (it blocks),
with implicit TLS (`AUTHWIRE_SMTP_SSL`), STARTTLS (`AUTHWIRE_SMTP_STARTTLS`,
on by default) and a login when `AUTHWIRE_SMTP_USERNAME` is set. Every failure
becomes a `NotificationDeliveryError` whose message names the setting to check.
"""

from __future__ import annotations

import re
import shlex
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import anyio

from authwire.errors import NotificationDeliveryError
from authwire.notifications.outbox import AccountEvent
from authwire.settings import Settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _one_line(text: object, limit: int = 200) -> str:
    """Names as they may appear in a header: no line breaks, bounded length."""
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body(payload: dict[str, Any], base_url: str) -> str:
    application = payload["application"]
    account = payload["account"]
    app_name = _one_line(application["name"])
    account_name = _one_line(account["name"])
    who = (
        f'The auth account "{account_name}" ({account["kind"]}, id {account["id"]}) '
        f'of the application "{app_name}"'
    )
    reason = payload.get("reason") or account.get("status_reason")
    lines: list[str]
    if payload["event"] == AccountEvent.NEEDS_REAUTHORIZATION:
        command = shlex.join(
            ["authwire", "accounts", "authorize", app_name, account_name]
        )
        lines = [
            f"{who} needs reauthorization.",
            "",
            f"Reason: {reason or 'not given by the provider'}",
            "",
            "Until then, every web service call that uses this account fails.",
            "To fix it, generate new tokens: open the auth account and click",
            "Generate, or run",
            "",
            f"    {command} --as <your user name>",
            "",
            "and open the URL it prints. Sign in at the provider as a user who",
            "may perform the calls, and consent.",
        ]
    else:
        lines = [
            f"{who} is authorized again.",
            "",
            "Web service calls that use it work again; nothing needs doing.",
        ]
        if reason:
            lines += ["", f"Note: {reason}"]
    path = f"/api/v1/applications/{application['id']}/auth-accounts/{account['id']}"
    lines += [
        "",
        f"Account: {base_url}{path}",
        f"Event: {payload['event']} at {payload['occurred_at']} "
        f"(notification {payload['id']})",
        "",
        "-- ",
        "Authwire. You receive this because you administer the application.",
    ]
    return "\n".join(lines) + "\n"


def _subject(payload: dict[str, Any]) -> str:
    what = (
        "needs reauthorization"
        if payload["event"] == AccountEvent.NEEDS_REAUTHORIZATION
        else "is authorized again"
    )
    application = _one_line(payload["application"]["name"], 80)
    account = _one_line(payload["account"]["name"], 80)
    return f"[Authwire] {application}: {account} {what}"


def compose_message(
    payload: dict[str, Any], *, to: str, settings: Settings
) -> EmailMessage:
    """The e-mail about the event in `payload` (a notification's JSON)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = _subject(payload)
    message["Date"] = formatdate(usegmt=True)
    # make_msgid() would otherwise look up this host's FQDN, which may stall.
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "authwire.invalid"
    message["Message-ID"] = make_msgid("authwire", domain=domain)
    # RFC 3834: keeps vacation auto-replies from answering a robot.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_body(payload, settings.base_url))
    return message


def _transmit(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
            context=context,
        )
    else:
        smtp = smtplib.SMTP(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
        )
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    with smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise NotificationDeliveryError(
                    f"The SMTP server {server} does not offer STARTTLS. Use its "
                    "TLS port with AUTHWIRE_SMTP_SSL=true, or set "
                    "AUTHWIRE_SMTP_STARTTLS=false only if the server is on a "
                    "network you trust."
                )
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.ehlo_or_helo_if_needed()
            if not smtp.has_extn("auth"):
                raise NotificationDeliveryError(
                    f"The SMTP server {server} offers no login (AUTH) on this "
                    "connection. Many servers offer it only over TLS "
                    "(AUTHWIRE_SMTP_STARTTLS or AUTHWIRE_SMTP_SSL); if this one "
                    "needs no login, unset AUTHWIRE_SMTP_USERNAME."
                )
            password = settings.smtp_password
            smtp.login(
                settings.smtp_username,
                password.get_secret_value() if password is not None else "",
            )
        smtp.send_message(message)


def _decode(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return _one_line(text, 300)


def _explain(exc: Exception, settings: Settings, to: str) -> str:
    """A sentence for `last_error`; never holds the password."""
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"The SMTP server {server} refused the login of "
            f"{settings.smtp_username!r} ({exc.smtp_code} "
            f"{_decode(exc.smtp_error)}); check AUTHWIRE_SMTP_USERNAME and "
            "AUTHWIRE_SMTP_PASSWORD."
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(
            f"{code} {_decode(text)}" for code, text in exc.recipients.values()
        )
        return f"The SMTP server {server} refused the address {to} ({answers})."
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (
            f"The SMTP server {server} refused the sender {settings.smtp_from} "
            f"({exc.smtp_code} {_decode(exc.smtp_error)}); check AUTHWIRE_SMTP_FROM."
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return (
            f"The SMTP server {server} answered {exc.smtp_code} "
            f"{_decode(exc.smtp_error)}."
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the SMTP server {server} failed: {exc.reason or exc}."
    if isinstance(exc, TimeoutError):
        return (
            f"The SMTP server {server} did not answer within "
            f"{settings.smtp_timeout_seconds:g} s (AUTHWIRE_SMTP_TIMEOUT_SECONDS)."
        )
    if isinstance(exc, smtplib.SMTPException):
        return f"The SMTP conversation with {server} failed: {_one_line(exc)}."
    return (
        f"Could not reach the SMTP server {server} ({_one_line(exc)}); check "
        "AUTHWIRE_SMTP_HOST and AUTHWIRE_SMTP_PORT."
    )


async def send_email(settings: Settings, message: EmailMessage) -> None:
    """Send `message` through the configured server, in a worker thread."""
    to = str(message["To"])
    try:
        await anyio.to_thread.run_sync(_transmit, settings, message)
    except (smtplib.SMTPException, OSError) as exc:
        raise NotificationDeliveryError(_explain(exc, settings, to)) from exc
