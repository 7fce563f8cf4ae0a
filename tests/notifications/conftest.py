"""Real receivers on loopback for the notification tests.

`receiver` is a small ASGI app served by Uvicorn on 127.0.0.1 that verifies
each webhook's signature as a customer's receiver would; `smtp_sink` is an
aiosmtpd server on 127.0.0.1 that keeps the messages it accepts. Faults that
a real server cannot produce on demand (a 500, a timeout) are injected with
httpx2.MockTransport in the tests themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authwire.errors import WebhookSignatureError
from authwire.notifications.signing import SIGNATURE_HEADER, verify_signature


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    problem: str | None


@dataclass
class Receiver:
    """Verifies and records webhooks; each path has the secret of one endpoint."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def expect(self, name: str, secret: str) -> None:
        self.secrets[f"/hooks/{name}"] = secret

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        secret = self.secrets.get(scope["path"])
        problem = None
        try:
            if secret is None:
                raise WebhookSignatureError("no secret registered for this path")
            verify_signature(secret, body, headers.get(SIGNATURE_HEADER.lower(), ""))
        except WebhookSignatureError as exc:
            problem = exc.message
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(
            Received(scope["path"], headers, body, problem is None, problem)
        )
        status = 204 if problem is None else 401
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "no receiver"
        time.sleep(0.01)
    receiver.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.secrets.clear()
    receiver_server.received.clear()
    receiver_server.delay = 0.0
    return receiver_server


class SmtpSink:
    """Keeps every message it accepts, and the logins it saw."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        data: Any,
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        ok = (login, password) == ("mailer", "smtp-pass-word-42")
        # handled=False: aiosmtpd then answers 235 or 535 itself.
        return AuthResult(success=ok, handled=False)


@dataclass
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def loopback_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, its own trust anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Authwire test SMTP")])
    now = dt.datetime.now(dt.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


def start_sink(**smtp_options: Any) -> tuple[SmtpSink, Controller]:
    sink = SmtpSink(free_port())
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        authenticator=sink.authenticate,
        **smtp_options,
    )
    controller.start()
    return sink, controller


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain SMTP server on loopback (no TLS, no login)."""
    sink, controller = start_sink()
    try:
        yield sink
    finally:
        controller.stop()
