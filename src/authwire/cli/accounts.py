"""Applications and their auth accounts, as in the API, for scripts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from authwire import applications as app_service
from authwire import users as user_service
from authwire.accounts import service as account_service
from authwire.accounts.schemas import AuthAccountCreate, AuthAccountUpdate
from authwire.cli.common import (
    OPERATOR,
    echo_json,
    fail,
    read_json,
    run,
    validated,
)
from authwire.runtime import Runtime
from authwire.tokens.revocation import Revoker, delete_account, revoke_account

apps_cli = typer.Typer(help="Ticketing applications.", no_args_is_help=True)
accounts_cli = typer.Typer(
    help="Auth accounts of an application.", no_args_is_help=True
)


@apps_cli.command("create")
def applications_create(
    name: str, description: Annotated[str, typer.Option()] = ""
) -> None:
    """Create an application and print it as JSON."""

    async def work(_runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        created = await app_service.create_application(
            session,
            OPERATOR,
            app_service.ApplicationCreate(name=name, description=description),
        )
        return app_service.ApplicationOut.model_validate(created).model_dump()

    echo_json(run(work))


@apps_cli.command("list")
def applications_list() -> None:
    """List applications as JSON."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.visible_applications(session, OPERATOR)
        return [
            app_service.ApplicationOut.model_validate(a).model_dump() for a in found
        ]

    echo_json(run(work))


async def _account(session: AsyncSession, application: str, account: str) -> Any:
    found = await app_service.find_application(session, OPERATOR, application)
    for candidate in await account_service.list_accounts(session, found.id):
        if str(candidate.id) == account or candidate.name == account:
            return candidate
    raise fail(f"application {application!r} has no auth account {account!r}")


@accounts_cli.command("create")
def accounts_create(
    application: str,
    definition: Annotated[
        str,
        typer.Argument(help="JSON file with the account, as for the API; - for stdin."),
    ],
) -> None:
    """Create an auth account from a JSON definition.

    Secrets come in the JSON, from a file or standard input, so that they stay
    out of the shell history and the process list.
    """
    data = validated(
        AuthAccountCreate,
        read_json(definition, "account definition"),
        "account definition",
    )

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await app_service.find_application(session, OPERATOR, application)
        created = await account_service.create_account(
            session,
            runtime.keyring,
            runtime.settings,
            found.id,
            data,
            discoverer=runtime.discover,
        )
        await session.commit()
        await session.refresh(created)
        out = account_service.account_out(created, runtime.settings, runtime.keyring)
        return out.model_dump(mode="json")

    echo_json(run(work))


@accounts_cli.command("update")
def accounts_update(application: str, account: str, definition: str) -> None:
    """Change an auth account from a JSON object of the fields to change."""
    data = validated(
        AuthAccountUpdate,
        read_json(definition, "account update"),
        "account update",
    )

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await _account(session, application, account)
        await account_service.update_account(
            session,
            runtime.keyring,
            runtime.settings,
            found,
            data,
            discoverer=runtime.discover,
        )
        await session.commit()
        await session.refresh(found)
        out = account_service.account_out(found, runtime.settings, runtime.keyring)
        return out.model_dump(mode="json")

    echo_json(run(work))


@accounts_cli.command("list")
def accounts_list(application: str) -> None:
    """List an application's auth accounts with their status."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, OPERATOR, application)
        accounts = await account_service.list_accounts(session, found.id)
        return [
            account_service.account_out(
                a, runtime.settings, runtime.keyring
            ).model_dump(mode="json")
            for a in accounts
        ]

    echo_json(run(work))


@accounts_cli.command("show")
def accounts_show(application: str, account: str) -> None:
    """Show one auth account (secrets are never shown, only whether held)."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await _account(session, application, account)
        out = account_service.account_out(found, runtime.settings, runtime.keyring)
        return out.model_dump(mode="json")

    echo_json(run(work))


@accounts_cli.command("authorize")
def accounts_authorize(
    application: str,
    account: str,
    as_user: Annotated[str, typer.Option("--as", help="The user who grants access.")],
) -> None:
    """Generate: print the URL to open in a browser to grant access."""
    from authwire.oauth.flow import start_authorization

    async def work(runtime: Runtime, session: AsyncSession) -> str:
        user = await user_service.get_user(session, as_user)
        found = await _account(session, application, account)
        started = await start_authorization(session, runtime, found, user)
        return started.url

    typer.echo(run(work))


@accounts_cli.command("revoke")
def accounts_revoke(application: str, account: str) -> None:
    """Revoke the grant at the provider (RFC 7009) and forget the tokens."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await _account(session, application, account)
        revoker = Revoker(runtime.keyring, runtime.token_endpoint)
        return (await revoke_account(session, revoker, found)).model_dump()

    echo_json(run(work))


@accounts_cli.command("delete")
def accounts_delete(application: str, account: str) -> None:
    """Delete the account, revoking its grant at the provider where possible."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await _account(session, application, account)
        revoker = Revoker(runtime.keyring, runtime.token_endpoint)
        outcome = await delete_account(session, revoker, found)
        return {"deleted": True, "revocation": outcome.model_dump()}

    echo_json(run(work))
