"""Signing webhook bodies, so that a receiver can trust what it is told.

Each webhook request carries three headers:

    Authwire-Event: account.needs_reauthorization
    Authwire-Delivery: 42
    Authwire-Signature: t=1767225600,v1=5f2c...e1

`t` is the time of sending in Unix seconds and `v1` the lower-case hex
HMAC-SHA256, keyed with the endpoint's signing secret, of the bytes
`"<t>." + body`: the timestamp is signed with the body, so a captured request
cannot be replayed later with a fresh `t`. A receiver recomputes the HMAC over
the raw body it received (before parsing the JSON), compares in constant time,
and refuses a `t` more than a few minutes away from its own clock.
`verify_signature` below does all three; a receiver in another language
follows the same steps.

`Authwire-Delivery` stays the same when a failed delivery is retried, and the
body's `id` is the same for every endpoint told of one event, so a receiver can
ignore a request it has already processed (delivery is at least once).

Several `v1=` entries may appear in one header; any one that matches is
enough. Authwire sends one today, but receivers that accept a list keep
working if a future version signs with an old and a new secret side by side.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from authwire.db.types import utcnow
from authwire.errors import WebhookSignatureError

SIGNATURE_HEADER = "Authwire-Signature"
EVENT_HEADER = "Authwire-Event"
DELIVERY_HEADER = "Authwire-Delivery"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, now: datetime | None = None) -> str:
    """The `Authwire-Signature` value for `body` sent at `now`."""
    timestamp = int((now or utcnow()).timestamp())
    return f"t={timestamp},{SCHEME}={compute_signature(secret, body, timestamp)}"


def webhook_headers(
    secret: str,
    body: bytes,
    *,
    event: str,
    delivery_id: int,
    now: datetime | None = None,
) -> dict[str, str]:
    """Every header that identifies and signs one webhook request."""
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: signature_header(secret, body, now=now),
    }


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(
            f"The {SIGNATURE_HEADER} header must look like 't=<unix seconds>,"
            f"{SCHEME}=<hex HMAC-SHA256>'; this one does not."
        )
    return timestamp, signatures


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: datetime | None = None,
) -> int:
    """Check an `Authwire-Signature` header against the raw request body.

    Returns the signed timestamp. Raises `WebhookSignatureError` when the
    header is malformed, when its timestamp is further than
    `tolerance_seconds` from `now` (either way: a replay, or a clock that is
    wrong), or when no signature matches, which means another secret or a
    changed body.
    """
    timestamp, signatures = _parse(header)
    current = int((now or utcnow()).timestamp())
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookSignatureError(
            f"The signature's timestamp is {current - timestamp} seconds away "
            f"from now, more than the {tolerance_seconds} allowed: the request "
            "is a replay, or one of the two clocks is wrong (check NTP)."
        )
    expected = compute_signature(secret, body, timestamp).encode()
    # Compare against every candidate, without stopping early; as bytes,
    # because compare_digest refuses str holding non-ASCII characters.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise WebhookSignatureError(
            "The signature does not match the body: the body was changed on "
            "the way, or the receiver holds another signing secret than the "
            "endpoint's current one (was it rotated?)."
        )
    return timestamp
