"""Request dependencies: the runtime, a database session, the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import User
from authwire.errors import AuthenticationRequiredError
from authwire.runtime import Runtime
from authwire.users import user_for_token


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    # Handlers commit what they mean to keep; anything else is rolled back
    # when the session closes.
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_user(request: Request, session: SessionDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequiredError(
            "This route needs an API token: send it as 'Authorization: Bearer "
            "<token>'. Create one with `authwire tokens create <username>`."
        )
    user = await user_for_token(session, token.strip())
    if user is None:
        raise AuthenticationRequiredError(
            "The API token is not valid (unknown or deleted). Create a new one "
            "with `authwire tokens create <username>`."
        )
    if session.dirty:
        await session.commit()
    return user


UserDep = Annotated[User, Depends(get_user)]
