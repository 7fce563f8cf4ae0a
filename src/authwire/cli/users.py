"""Users who administer applications, and their API tokens."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire import applications as app_service
from authwire import users as user_service
from authwire.cli.common import (
    OPERATOR,
    fail,
    run,
)
from authwire.db.models import User
from authwire.runtime import Runtime

users_cli = typer.Typer(help="Users who administer applications.", no_args_is_help=True)
tokens_cli = typer.Typer(help="Personal API tokens for scripts.", no_args_is_help=True)


@users_cli.command("create")
def users_create(
    username: str,
    superuser: Annotated[bool, typer.Option(help="May administer everything.")] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option(help="No password: this user works through API tokens only.")
    ] = False,
    email: Annotated[
        str | None,
        typer.Option(help="Where notifications about the user's applications go."),
    ] = None,
) -> None:
    """Create a user (prompting for a password unless told otherwise)."""
    password: str | None
    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise fail("the passwords differ; nothing was created")
    else:
        raise fail("give --password-stdin, or --no-password for an API-only user")

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        await user_service.create_user(
            session, username, password=password, is_superuser=superuser, email=email
        )

    run(work)
    typer.echo(f"created user {username}" + (" (superuser)" if superuser else ""))


@users_cli.command("list")
def users_list() -> None:
    """List the users."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[User]:
        return list(await session.scalars(select(User).order_by(User.username)))

    for user in run(work):
        typer.echo(f"{user.username}{'  (superuser)' if user.is_superuser else ''}")


@users_cli.command("grant")
def users_grant(username: str, application: str) -> None:
    """Let a user administer an application (by name or id)."""

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        user = await user_service.get_user(session, username)
        found = await app_service.find_application(session, OPERATOR, application)
        await app_service.grant_application(session, found, user)

    run(work)
    typer.echo(f"{username} now administers {application}")


@tokens_cli.command("create")
def tokens_create(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create an API token; it is printed once, alone on the last line."""

    async def work(_runtime: Runtime, session: AsyncSession) -> str:
        user = await user_service.get_user(session, username)
        return await user_service.create_api_token(session, user, name)

    token = run(work)
    typer.echo(f"API token {name!r} for {username} (shown only now; store it safely):")
    typer.echo(token)
