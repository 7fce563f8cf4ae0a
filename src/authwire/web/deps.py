"""Request dependencies: the runtime, a database session, the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import User
from authwire.errors import AuthenticationRequiredError, InvalidInputError
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


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_KNOWN_QUERY: dict[int, frozenset[str]] = {}


async def refuse_unknown_query_parameters(request: Request, _user: UserDep) -> None:
    """Refuse a query parameter the route does not read: a mistyped filter
    (`limt=5`) would otherwise be ignored without a word, and the answer
    would look like what was asked for. Runs after sign-in, so that a caller
    without a token learns nothing about a route's parameters."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        known = _KNOWN_QUERY[id(route)] = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if not unknown:
        return
    if known:
        problem = "is not a parameter of this route; use " + ", ".join(sorted(known))
    else:
        problem = "is not a parameter of this route, which takes none"
    raise InvalidInputError(
        f"{unknown[0]}: {problem}.", {name: problem + "." for name in unknown}
    )
