"""Applications (ticketing applications) and who may administer them.

A superuser administers every application; another user administers the
applications granted to them, and is granted the ones they create.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import Application, ApplicationAdmin, User
from authwire.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)


class ApplicationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str


async def _name_taken(session: AsyncSession, name: str, own_id: int | None) -> None:
    existing = await session.scalar(
        select(Application.id).where(Application.name == name)
    )
    if existing is not None and existing != own_id:
        raise ConflictError(f"An application named {name!r} already exists.")


async def create_application(
    session: AsyncSession, user: User, data: ApplicationCreate
) -> Application:
    name = data.name.strip()
    await _name_taken(session, name, None)
    application = Application(name=name, description=data.description.strip())
    session.add(application)
    await session.flush()
    if not user.is_superuser:
        session.add(ApplicationAdmin(application_id=application.id, user_id=user.id))
    log.info("application %s (%r) created by %s", application.id, name, user.username)
    return application


async def visible_applications(session: AsyncSession, user: User) -> list[Application]:
    query = select(Application).order_by(Application.name)
    if not user.is_superuser:
        query = query.join(ApplicationAdmin).where(ApplicationAdmin.user_id == user.id)
    return list(await session.scalars(query))


async def administered_application(
    session: AsyncSession, user: User, application_id: int
) -> Application:
    """The application, if `user` may administer it.

    Someone who may not administer it is told it does not exist, as for one
    that does not: the answer must not reveal which applications exist.
    """
    application = await session.get(Application, application_id)
    if application is not None and not user.is_superuser:
        grant = await session.get(ApplicationAdmin, (application_id, user.id))
        if grant is None:
            application = None
    if application is None:
        raise NotFoundError(
            f"There is no application {application_id} that you administer."
        )
    return application


async def find_application(session: AsyncSession, user: User, ref: str) -> Application:
    """An application by id or by name, for the CLI."""
    if ref.isdigit():
        return await administered_application(session, user, int(ref))
    application_id = await session.scalar(
        select(Application.id).where(Application.name == ref)
    )
    if application_id is None:
        raise NotFoundError(f"There is no application named {ref!r}.")
    return await administered_application(session, user, application_id)


async def update_application(
    session: AsyncSession, application: Application, data: ApplicationUpdate
) -> Application:
    if data.name is not None:
        name = data.name.strip()
        await _name_taken(session, name, application.id)
        application.name = name
    if data.description is not None:
        application.description = data.description.strip()
    await session.flush()
    return application


async def grant_application(
    session: AsyncSession, application: Application, user: User
) -> None:
    if await session.get(ApplicationAdmin, (application.id, user.id)) is None:
        session.add(ApplicationAdmin(application_id=application.id, user_id=user.id))
        await session.flush()
