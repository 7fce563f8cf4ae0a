"""Reading the rows that belong to one application: accounts, providers,
methods, webhook endpoints. Each lookup is scoped to the application, so an
id from another application answers "not found" like one that never existed.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from authwire.errors import ConflictError, NotFoundError


class Owned(Protocol):
    id: Any
    application_id: Any


M = TypeVar("M", bound=Owned)


async def get_owned(
    session: AsyncSession, model: type[M], application_id: int, row_id: int, noun: str
) -> M:
    row = await session.get(model, row_id)
    if row is None or row.application_id != application_id:
        raise NotFoundError(f"Application {application_id} has no {noun} {row_id}.")
    return row


async def list_owned(
    session: AsyncSession,
    model: type[M],
    application_id: int,
    order_by: InstrumentedAttribute[Any],
) -> list[M]:
    rows = await session.scalars(
        select(model).where(model.application_id == application_id).order_by(order_by)
    )
    return list(rows)


async def ensure_unique_name(
    session: AsyncSession,
    model: type[M],
    application_id: int,
    name: str,
    noun: str,
    *,
    own_id: int | None = None,
) -> None:
    """Names are unique within an application: say so before the database does."""
    existing = await session.scalar(
        select(model.id).where(
            model.application_id == application_id,
            model.name == name,  # type: ignore[attr-defined]
        )
    )
    if existing is not None and existing != own_id:
        article = "an" if noun[0] in "aeiou" else "a"
        raise ConflictError(
            f"This application already has {article} {noun} named {name!r}; "
            "choose another name."
        )
