"""The webhook signature: what receivers rely on to trust a request."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from authwire.errors import WebhookSignatureError
from authwire.notifications.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    verify_signature,
    webhook_headers,
)

SECRET = "whsec-test-0123456789abcdef"
BODY = b'{"event": "account.needs_reauthorization", "id": "n-1"}'
SENT_AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def test_a_signed_body_verifies_and_returns_its_timestamp() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)

    signed_at = verify_signature(SECRET, BODY, header, now=SENT_AT)

    assert signed_at == int(SENT_AT.timestamp())


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # What a receiver in another language computes, from the README alone.
    timestamp = int(SENT_AT.timestamp())
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + BODY, hashlib.sha256
    ).hexdigest()

    assert signature_header(SECRET, BODY, now=SENT_AT) == f"t={timestamp},v1={expected}"


def test_webhook_headers_name_the_event_and_the_delivery() -> None:
    headers = webhook_headers(
        SECRET, BODY, event="account.recovered", delivery_id=42, now=SENT_AT
    )

    assert headers[EVENT_HEADER] == "account.recovered"
    assert headers[DELIVERY_HEADER] == "42"
    assert headers["Content-Type"] == "application/json"
    verify_signature(SECRET, BODY, headers[SIGNATURE_HEADER], now=SENT_AT)
    assert SECRET not in "".join(headers.values())


def test_a_tampered_body_is_refused() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)
    tampered = BODY.replace(b"needs_reauthorization", b"recovered")

    with pytest.raises(WebhookSignatureError, match="does not match the body"):
        verify_signature(SECRET, tampered, header, now=SENT_AT)


def test_another_secret_is_refused() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)

    with pytest.raises(WebhookSignatureError, match="another signing secret"):
        verify_signature("whsec-someone-else", BODY, header, now=SENT_AT)


def test_a_replayed_request_with_a_stale_timestamp_is_refused() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)
    later = SENT_AT + timedelta(seconds=301)

    with pytest.raises(WebhookSignatureError, match="301 seconds away"):
        verify_signature(SECRET, BODY, header, now=later)


def test_a_timestamp_from_the_future_is_refused_too() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT + timedelta(minutes=10))

    with pytest.raises(WebhookSignatureError, match="more than the 300 allowed"):
        verify_signature(SECRET, BODY, header, now=SENT_AT)


def test_the_tolerance_is_the_receivers_choice() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)
    later = SENT_AT + timedelta(seconds=30)

    verify_signature(SECRET, BODY, header, now=later, tolerance_seconds=30)
    with pytest.raises(WebhookSignatureError):
        verify_signature(SECRET, BODY, header, now=later, tolerance_seconds=29)


def test_a_moved_timestamp_breaks_the_signature() -> None:
    # Replaying an old signature with a fresh t= must not work: t is signed.
    old = signature_header(SECRET, BODY, now=SENT_AT - timedelta(hours=1))
    signature = old.split(",")[1]
    forged = f"t={int(SENT_AT.timestamp())},{signature}"

    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(SECRET, BODY, forged, now=SENT_AT)


def test_any_matching_v1_entry_is_enough() -> None:
    header = signature_header(SECRET, BODY, now=SENT_AT)
    timestamp, signature = header.split(",")
    with_old_secret = f"{timestamp},v1={'0' * 64},{signature}"

    verify_signature(SECRET, BODY, with_old_secret, now=SENT_AT)


@pytest.mark.parametrize(
    "header",
    ["", "v1=abc", "t=1764590400", "t=soon,v1=abc", "garbage", "t=1764590400,v1="],
)
def test_a_malformed_header_is_refused_with_the_expected_shape(header: str) -> None:
    with pytest.raises(WebhookSignatureError, match=r"t=<unix seconds>"):
        verify_signature(SECRET, BODY, header, now=SENT_AT)


def test_a_signature_with_non_ascii_characters_is_refused_not_crashed() -> None:
    header = f"t={int(SENT_AT.timestamp())},v1=é{'0' * 63}"

    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify_signature(SECRET, BODY, header, now=SENT_AT)
