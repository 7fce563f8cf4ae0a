"""/api/v1/applications"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from authwire import applications as service
from authwire.applications import ApplicationCreate, ApplicationOut, ApplicationUpdate
from authwire.web.api.ids import ApplicationId
from authwire.web.deps import SessionDep, UserDep

router = APIRouter(prefix="/applications", tags=["applications"])


class ApplicationList(BaseModel):
    items: list[ApplicationOut]


@router.get("", response_model=ApplicationList)
async def list_applications(session: SessionDep, user: UserDep) -> ApplicationList:
    items = await service.visible_applications(session, user)
    return ApplicationList(items=[ApplicationOut.model_validate(a) for a in items])


@router.post("", response_model=ApplicationOut, status_code=201)
async def create_application(
    data: ApplicationCreate, session: SessionDep, user: UserDep
) -> ApplicationOut:
    application = await service.create_application(session, user, data)
    await session.commit()
    return ApplicationOut.model_validate(application)


@router.get("/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: ApplicationId, session: SessionDep, user: UserDep
) -> ApplicationOut:
    application = await service.administered_application(session, user, application_id)
    return ApplicationOut.model_validate(application)


@router.patch("/{application_id}", response_model=ApplicationOut)
async def update_application(
    application_id: ApplicationId,
    data: ApplicationUpdate,
    session: SessionDep,
    user: UserDep,
) -> ApplicationOut:
    application = await service.administered_application(session, user, application_id)
    await service.update_application(session, application, data)
    await session.commit()
    return ApplicationOut.model_validate(application)


@router.delete("/{application_id}", status_code=204)
async def delete_application(
    application_id: ApplicationId, session: SessionDep, user: UserDep
) -> Response:
    application = await service.administered_application(session, user, application_id)
    await session.delete(application)
    await session.commit()
    return Response(status_code=204)
