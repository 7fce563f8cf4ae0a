"""Webhook endpoints: the URLs an admin wants told about an application.

Authwire generates each endpoint's signing secret (256 bits from `secrets`),
so that no guessable value is ever used, and stores it encrypted. The secret
is returned once, when it is made (on create, or on a rotation), and never
again: a receiver that lost it gets a new one by rotating. A rotation takes
effect at once, so update the receiver right after it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.validation import endpoint_problem
from authwire.db.models import WebhookEndpoint
from authwire.db.owned import list_owned
from authwire.errors import InvalidInputError, NotFoundError
from authwire.secrets import Keyring
from authwire.settings import Settings

log = logging.getLogger(__name__)


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    description: str = Field("", max_length=4000)
    active: bool = True


class WebhookEndpointUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=4000)
    active: bool | None = None
    rotate_secret: bool = Field(
        False,
        description="Replace the signing secret; the new one is returned once, "
        "in this response, and the old one stops working at once.",
    )


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    application_id: int
    url: str
    description: str
    active: bool
    created_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str | None = Field(
        None,
        description="The signing secret, shown only in this response (on create, "
        "or when rotate_secret was true); null otherwise. Store it in the "
        "receiver now: it cannot be read again.",
    )


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def url_problem(url: str, settings: Settings) -> str | None:
    """Why `url` cannot receive webhooks, or None when it can."""
    try:
        urlsplit(url)
    except ValueError:
        return "is not a valid URL; check the brackets around an IPv6 address."
    return endpoint_problem(
        url,
        allow_http=settings.allow_http_endpoints,
        example="https://hooks.example.edu/authwire",
        described="URL that accepts POST requests",
    )


def _checked_url(url: str, settings: Settings) -> str:
    url = url.strip()
    problem = url_problem(url, settings)
    if problem:
        raise InvalidInputError.about("webhook endpoint", {"url": problem})
    return url


async def list_endpoints(
    session: AsyncSession, application_id: int
) -> list[WebhookEndpoint]:
    return await list_owned(
        session, WebhookEndpoint, application_id, WebhookEndpoint.id
    )


async def get_endpoint(
    session: AsyncSession, application_id: int, endpoint_id: int
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.application_id != application_id:
        raise NotFoundError(
            f"Application {application_id} has no webhook endpoint {endpoint_id}; "
            f"list them at /api/v1/applications/{application_id}/webhooks."
        )
    return endpoint


async def create_endpoint(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    application_id: int,
    data: WebhookEndpointCreate,
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it with its signing secret (shown only now)."""
    url = _checked_url(data.url, settings)
    secret = new_signing_secret()
    endpoint = WebhookEndpoint(
        application_id=application_id,
        url=url,
        description=data.description.strip(),
        active=data.active,
        secret_enc=keyring.encrypt(secret),
    )
    session.add(endpoint)
    await session.flush()
    log.info("webhook endpoint %s added to application %s", endpoint.id, application_id)
    return endpoint, secret


async def update_endpoint(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    endpoint: WebhookEndpoint,
    data: WebhookEndpointUpdate,
) -> str | None:
    """Apply the change; returns the new signing secret when it was rotated."""
    # Validate everything before changing anything: nothing half-saved.
    url = _checked_url(data.url, settings) if data.url is not None else None
    if url is not None:
        endpoint.url = url
    if data.description is not None:
        endpoint.description = data.description.strip()
    if data.active is not None:
        endpoint.active = data.active
    secret = None
    if data.rotate_secret:
        secret = new_signing_secret()
        endpoint.secret_enc = keyring.encrypt(secret)
        log.info("webhook endpoint %s: signing secret rotated", endpoint.id)
    await session.flush()
    return secret
