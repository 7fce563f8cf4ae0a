"""Posting one signed notification to one webhook endpoint.

A 2xx answer is success; any other answer or a network error is a
`NotificationDeliveryError`, and no answer in time a `TimeoutError`, which the
delivery worker records and retries. Redirects are not followed: a 301 or 302
would turn the POST into a GET, and the event would go to an address no admin
configured; a receiver that moved gets its endpoint's URL changed instead.
"""

from __future__ import annotations

from datetime import datetime

import httpx2

from authwire import __version__
from authwire.errors import NotificationDeliveryError
from authwire.notifications.signing import webhook_headers
from authwire.secrets import Secret

# Enough of an error answer to tell "wrong path" from "down for maintenance",
# without reading whatever a broken receiver chooses to stream back.
_ANSWER_EXCERPT_BYTES = 200


async def _excerpt(response: httpx2.Response) -> str:
    chunk = b""
    async for data in response.aiter_bytes():
        chunk += data
        if len(chunk) >= _ANSWER_EXCERPT_BYTES:
            break
    text = chunk[:_ANSWER_EXCERPT_BYTES].decode(errors="replace")
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    excerpt = " ".join(printable.split())
    return f": {excerpt}" if excerpt else ""


async def post_webhook(
    http_client: httpx2.AsyncClient,
    url: str,
    secret: Secret,
    body: bytes,
    *,
    event: str,
    delivery_id: int,
    now: datetime | None = None,
) -> int:
    """POST `body` to `url`, signed with `secret`; return the HTTP status.

    Raises `TimeoutError` when the endpoint does not answer within the
    client's timeout, so that the caller, which also bounds the whole
    exchange, reports every kind of slowness in one way.
    """
    headers = webhook_headers(
        secret.reveal(), body, event=event, delivery_id=delivery_id, now=now
    )
    headers["User-Agent"] = f"Authwire/{__version__}"
    try:
        async with http_client.stream(
            "POST", url, content=body, headers=headers
        ) as response:
            if response.is_success:
                return response.status_code
            excerpt = await _excerpt(response)
    except httpx2.TimeoutException as exc:
        raise TimeoutError(str(exc)) from exc
    except httpx2.RequestError as exc:
        raise NotificationDeliveryError(
            f"The request failed before an answer ({type(exc).__name__}: {exc}); "
            "check that the URL's host is reachable from Authwire."
        ) from exc

    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        location = response.headers.get("location", "")
        raise NotificationDeliveryError(
            f"The endpoint answered {status} to {location or 'another URL'}; "
            "webhooks are not redirected, so change the endpoint's URL to the "
            "address that receives them."
        )
    raise NotificationDeliveryError(
        f"The endpoint answered {status}{excerpt}; a 2xx status is expected."
    )


def timeout_error(seconds: float) -> NotificationDeliveryError:
    return NotificationDeliveryError(
        f"The endpoint did not answer within {seconds:g} s "
        "(AUTHWIRE_WEBHOOK_TIMEOUT_SECONDS)."
    )
