"""/api/v1/applications/{application_id}/web-service-providers"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from authwire.applications import administered_application
from authwire.calls import providers as service
from authwire.calls.providers import ProviderCreate, ProviderOut, ProviderUpdate
from authwire.web.api.ids import ApplicationId, ProviderId
from authwire.web.deps import RuntimeDep, SessionDep, UserDep

router = APIRouter(
    prefix="/applications/{application_id}/web-service-providers",
    tags=["web service providers"],
)


class ProviderList(BaseModel):
    items: list[ProviderOut]


@router.get("", response_model=ProviderList)
async def list_providers(
    application_id: ApplicationId, session: SessionDep, user: UserDep
) -> ProviderList:
    await administered_application(session, user, application_id)
    found = await service.list_providers(session, application_id)
    return ProviderList(items=[ProviderOut.model_validate(p) for p in found])


@router.post("", response_model=ProviderOut, status_code=201)
async def create_provider(
    application_id: ApplicationId,
    data: ProviderCreate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> ProviderOut:
    await administered_application(session, user, application_id)
    provider = await service.create_provider(
        session, runtime.settings, application_id, data
    )
    await session.commit()
    await session.refresh(provider)
    return ProviderOut.model_validate(provider)


@router.get("/{provider_id}", response_model=ProviderOut)
async def get_provider(
    application_id: ApplicationId,
    provider_id: ProviderId,
    session: SessionDep,
    user: UserDep,
) -> ProviderOut:
    await administered_application(session, user, application_id)
    provider = await service.get_provider(session, application_id, provider_id)
    return ProviderOut.model_validate(provider)


@router.patch("/{provider_id}", response_model=ProviderOut)
async def update_provider(
    application_id: ApplicationId,
    provider_id: ProviderId,
    data: ProviderUpdate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> ProviderOut:
    await administered_application(session, user, application_id)
    provider = await service.get_provider(session, application_id, provider_id)
    await service.update_provider(session, runtime.settings, provider, data)
    await session.commit()
    await session.refresh(provider)
    return ProviderOut.model_validate(provider)


@router.delete("/{provider_id}", status_code=204)
async def delete_provider(
    application_id: ApplicationId,
    provider_id: ProviderId,
    session: SessionDep,
    user: UserDep,
) -> Response:
    await administered_application(session, user, application_id)
    provider = await service.get_provider(session, application_id, provider_id)
    await service.delete_provider(session, provider)
    await session.commit()
    return Response(status_code=204)
