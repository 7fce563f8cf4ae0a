"""Web service providers: a remote system's name, base URL and active flag."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.accounts.validation import endpoint_problem
from authwire.db.models import WebServiceMethod, WebServiceProvider
from authwire.db.owned import ensure_unique_name, get_owned, list_owned
from authwire.errors import ConflictError, InvalidInputError
from authwire.settings import Settings

log = logging.getLogger(__name__)

NOUN = "web service provider"


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    base_url: str = Field(min_length=1, max_length=2000)
    active: bool = True


class ProviderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    base_url: str | None = Field(None, min_length=1, max_length=2000)
    active: bool | None = None


class ProviderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    application_id: int
    name: str
    description: str
    base_url: str
    active: bool
    created_at: datetime
    updated_at: datetime


def _check_base_url(value: str, settings: Settings) -> str:
    value = value.strip()
    problem = endpoint_problem(
        value,
        allow_http=settings.allow_http_endpoints,
        example="https://api.example.com/v2",
    )
    if problem is None and "?" in value:
        problem = "must not have a query string; put query parameters on the methods."
    if problem:
        raise InvalidInputError.about(NOUN, {"base_url": problem})
    return value.rstrip("/")


async def get_provider(
    session: AsyncSession, application_id: int, provider_id: int
) -> WebServiceProvider:
    return await get_owned(
        session, WebServiceProvider, application_id, provider_id, NOUN
    )


async def list_providers(
    session: AsyncSession, application_id: int
) -> list[WebServiceProvider]:
    return await list_owned(
        session, WebServiceProvider, application_id, WebServiceProvider.name
    )


async def create_provider(
    session: AsyncSession, settings: Settings, application_id: int, data: ProviderCreate
) -> WebServiceProvider:
    base_url = _check_base_url(data.base_url, settings)
    name = data.name.strip()
    await ensure_unique_name(session, WebServiceProvider, application_id, name, NOUN)
    provider = WebServiceProvider(
        application_id=application_id,
        name=name,
        description=data.description.strip(),
        base_url=base_url,
        active=data.active,
    )
    session.add(provider)
    await session.flush()
    log.info(
        "web service provider %s created in application %s", provider.id, application_id
    )
    return provider


async def update_provider(
    session: AsyncSession,
    settings: Settings,
    provider: WebServiceProvider,
    data: ProviderUpdate,
) -> WebServiceProvider:
    if data.base_url is not None:
        provider.base_url = _check_base_url(data.base_url, settings)
    if data.name is not None:
        name = data.name.strip()
        await ensure_unique_name(
            session,
            WebServiceProvider,
            provider.application_id,
            name,
            NOUN,
            own_id=provider.id,
        )
        provider.name = name
    if data.description is not None:
        provider.description = data.description.strip()
    if data.active is not None:
        provider.active = data.active
    await session.flush()
    return provider


async def delete_provider(session: AsyncSession, provider: WebServiceProvider) -> None:
    methods = await session.scalar(
        select(func.count()).where(WebServiceMethod.provider_id == provider.id)
    )
    if methods:
        raise ConflictError(
            f"The provider {provider.name!r} still has {methods} web service "
            "methods; delete them or move them to another provider first."
        )
    await session.delete(provider)
