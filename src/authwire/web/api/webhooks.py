"""/api/v1/applications/{application_id}/webhooks and .../notifications"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from authwire.applications import administered_application
from authwire.notifications import endpoints as service
from authwire.notifications.endpoints import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from authwire.notifications.history import NotificationOut, recent_notifications
from authwire.web.api.ids import ApplicationId, EndpointId
from authwire.web.deps import RuntimeDep, SessionDep, UserDep

router = APIRouter(prefix="/applications/{application_id}", tags=["notifications"])


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointOut]


class NotificationList(BaseModel):
    items: list[NotificationOut]


@router.get("/webhooks", response_model=WebhookEndpointList)
async def list_webhooks(
    application_id: ApplicationId, session: SessionDep, user: UserDep
) -> WebhookEndpointList:
    await administered_application(session, user, application_id)
    endpoints = await service.list_endpoints(session, application_id)
    return WebhookEndpointList(
        items=[WebhookEndpointOut.model_validate(e) for e in endpoints]
    )


@router.post("/webhooks", response_model=WebhookEndpointWithSecret, status_code=201)
async def create_webhook(
    application_id: ApplicationId,
    data: WebhookEndpointCreate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> WebhookEndpointWithSecret:
    """Returns the signing secret, this once: store it in the receiver."""
    await administered_application(session, user, application_id)
    endpoint, secret = await service.create_endpoint(
        session, runtime.keyring, runtime.settings, application_id, data
    )
    await session.commit()
    out = WebhookEndpointOut.model_validate(endpoint)
    return WebhookEndpointWithSecret(**out.model_dump(), secret=secret)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookEndpointOut)
async def get_webhook(
    application_id: ApplicationId,
    endpoint_id: EndpointId,
    session: SessionDep,
    user: UserDep,
) -> WebhookEndpointOut:
    await administered_application(session, user, application_id)
    endpoint = await service.get_endpoint(session, application_id, endpoint_id)
    return WebhookEndpointOut.model_validate(endpoint)


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookEndpointWithSecret)
async def update_webhook(
    application_id: ApplicationId,
    endpoint_id: EndpointId,
    data: WebhookEndpointUpdate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> WebhookEndpointWithSecret:
    """With `rotate_secret: true`, the new signing secret is returned once."""
    await administered_application(session, user, application_id)
    endpoint = await service.get_endpoint(session, application_id, endpoint_id)
    secret = await service.update_endpoint(
        session, runtime.keyring, runtime.settings, endpoint, data
    )
    await session.commit()
    out = WebhookEndpointOut.model_validate(endpoint)
    return WebhookEndpointWithSecret(**out.model_dump(), secret=secret)


@router.delete("/webhooks/{endpoint_id}", status_code=204)
async def delete_webhook(
    application_id: ApplicationId,
    endpoint_id: EndpointId,
    session: SessionDep,
    user: UserDep,
) -> Response:
    """Deliveries still waiting for this endpoint are dropped with it."""
    await administered_application(session, user, application_id)
    endpoint = await service.get_endpoint(session, application_id, endpoint_id)
    await session.delete(endpoint)
    await session.commit()
    return Response(status_code=204)


@router.get("/notifications", response_model=NotificationList)
async def list_notifications(
    application_id: ApplicationId,
    session: SessionDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[
        int | None, Query(description="Page back: notifications older than this id.")
    ] = None,
) -> NotificationList:
    """The newest notifications first, each with its deliveries' status,
    attempts and last error."""
    await administered_application(session, user, application_id)
    items = await recent_notifications(
        session, application_id, limit=limit, before_id=before_id
    )
    return NotificationList(items=items)
