"""/api/v1/applications/{application_id}/web-service-methods"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from authwire.applications import administered_application
from authwire.calls import methods as service
from authwire.calls.executor import CallContext, CallResult
from authwire.calls.methods import MethodCreate, MethodOut, MethodUpdate
from authwire.web.api.ids import ApplicationId, MethodId
from authwire.web.deps import RuntimeDep, SessionDep, UserDep

router = APIRouter(
    prefix="/applications/{application_id}/web-service-methods",
    tags=["web service methods"],
)


class MethodList(BaseModel):
    items: list[MethodOut]


@router.get("", response_model=MethodList)
async def list_methods(
    application_id: ApplicationId, session: SessionDep, user: UserDep
) -> MethodList:
    await administered_application(session, user, application_id)
    found = await service.list_methods(session, application_id)
    return MethodList(items=[service.method_out(m) for m in found])


@router.post("", response_model=MethodOut, status_code=201)
async def create_method(
    application_id: ApplicationId,
    data: MethodCreate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> MethodOut:
    await administered_application(session, user, application_id)
    method = await service.create_method(session, runtime.keyring, application_id, data)
    await session.commit()
    await session.refresh(method)
    return service.method_out(method)


@router.get("/{method_id}", response_model=MethodOut)
async def get_method(
    application_id: ApplicationId,
    method_id: MethodId,
    session: SessionDep,
    user: UserDep,
) -> MethodOut:
    await administered_application(session, user, application_id)
    return service.method_out(
        await service.get_method(session, application_id, method_id)
    )


@router.patch("/{method_id}", response_model=MethodOut)
async def update_method(
    application_id: ApplicationId,
    method_id: MethodId,
    data: MethodUpdate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> MethodOut:
    await administered_application(session, user, application_id)
    method = await service.get_method(session, application_id, method_id)
    await service.update_method(session, runtime.keyring, method, data)
    await session.commit()
    await session.refresh(method)
    return service.method_out(method)


@router.delete("/{method_id}", status_code=204)
async def delete_method(
    application_id: ApplicationId,
    method_id: MethodId,
    session: SessionDep,
    user: UserDep,
) -> Response:
    await administered_application(session, user, application_id)
    method = await service.get_method(session, application_id, method_id)
    await session.delete(method)
    await session.commit()
    return Response(status_code=204)


class CallParameters(BaseModel):
    parameters: dict[str, Any] | None = Field(
        None,
        description="The values for the method's templates; for Test Request, "
        "the method's saved sample parameters when left out.",
    )


@router.post("/{method_id}/test", response_model=CallResult)
async def test_method(
    application_id: ApplicationId,
    method_id: MethodId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
    data: CallParameters | None = None,
) -> CallResult:
    """Test Request: perform the method now and show the answer. The call is
    logged like every other, with the source `test`."""
    await administered_application(session, user, application_id)
    method = await service.get_method(session, application_id, method_id)
    parameters = data.parameters if data and data.parameters is not None else None
    if parameters is None:
        parameters = json.loads(method.sample_parameters)
    await session.close()
    return await runtime.caller.call(
        application_id, method_id, parameters, CallContext(source="test")
    )


@router.post("/{method_id}/calls", response_model=CallResult)
async def call_method(
    application_id: ApplicationId,
    method_id: MethodId,
    data: CallParameters,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> CallResult:
    """Perform the method for a script; logged with the source `api`."""
    await administered_application(session, user, application_id)
    await service.get_method(session, application_id, method_id)
    await session.close()
    return await runtime.caller.call(
        application_id, method_id, data.parameters or {}, CallContext(source="api")
    )
