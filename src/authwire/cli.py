"""The `authwire` command: serve, migrate, keys, users, API tokens, and the
same operations on applications and auth accounts as the API, for scripts.

The CLI works on the database directly, as the operator of the installation;
commands that act for a user (authorize) name that user with --as.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire import applications as app_service
from authwire import users as user_service
from authwire.accounts import service as account_service
from authwire.accounts.schemas import AuthAccountCreate, AuthAccountUpdate
from authwire.db import migrate as migrations
from authwire.db.models import User
from authwire.db.rekey import reencrypt_all
from authwire.errors import AuthwireError, InvalidInputError
from authwire.notifications import endpoints as notification_endpoints
from authwire.runtime import Runtime, load_keyring, open_runtime
from authwire.secrets import (
    generate_key,
    key_file_path,
    load_or_create_key_file,
    write_key_file,
)
from authwire.settings import Settings

T = TypeVar("T")

cli = typer.Typer(
    help="Authwire: credentials, OAuth 2.0 token keeping and web service calls.",
    no_args_is_help=True,
    add_completion=False,
)
users_cli = typer.Typer(help="Users who administer applications.", no_args_is_help=True)
tokens_cli = typer.Typer(help="Personal API tokens for scripts.", no_args_is_help=True)
apps_cli = typer.Typer(help="Ticketing applications.", no_args_is_help=True)
accounts_cli = typer.Typer(
    help="Auth accounts of an application.", no_args_is_help=True
)
webhooks_cli = typer.Typer(
    help="Webhook endpoints told when an account needs reauthorization or recovers.",
    no_args_is_help=True,
)
cli.add_typer(users_cli, name="users")
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(apps_cli, name="applications")
cli.add_typer(accounts_cli, name="accounts")
cli.add_typer(webhooks_cli, name="webhooks")

# The operator at the console may do what a superuser may.
_OPERATOR = User(id=0, username="(operator)", is_superuser=True)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs full URLs at INFO; query strings may carry codes (#2760).
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _run(work: Callable[[Runtime, AsyncSession], Awaitable[T]]) -> T:
    """Open a runtime, run `work` in one session, commit, and report errors."""

    async def main() -> T:
        runtime = await open_runtime(Settings())
        try:
            async with runtime.sessions() as session:
                result = await work(runtime, session)
                await session.commit()
                return result
        finally:
            await runtime.aclose()

    try:
        return asyncio.run(main())
    except InvalidInputError as exc:
        details = "".join(
            f"\n  {field}: {problem}" for field, problem in exc.fields.items()
        )
        raise _fail(exc.message + details) from None
    except AuthwireError as exc:
        raise _fail(exc.message) from None


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    base_url: Annotated[str | None, typer.Option(help="External URL.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """Start the service (migrating an embedded SQLite database first)."""
    import uvicorn

    from authwire.web.app import create_app

    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": host,
            "port": port,
            "base_url": base_url,
            "data_dir": data_dir,
        }.items()
        if value is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise _fail(str(exc)) from None
    _configure_logging(settings.log_level)
    logging.getLogger(__name__).info(
        "Authwire %s on http://%s:%s (base URL %s; redirect URI %s)",
        __import__("authwire").__version__,
        settings.host,
        settings.port,
        settings.base_url,
        settings.redirect_uri,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
    )


@cli.command("migrate")
def migrate_command() -> None:
    """Apply database migrations (run once when upgrading a PostgreSQL install)."""
    settings = Settings()
    _configure_logging(settings.log_level)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)
    typer.echo(f"database is at revision {migrations.head_revision()}")


@cli.command("generate-key")
def generate_key_command() -> None:
    """Print a new secret key (for AUTHWIRE_SECRET_KEYS)."""
    typer.echo(generate_key())


@cli.command("rotate-keys")
def rotate_keys(
    new_key: Annotated[
        bool, typer.Option(help="Add a new key to the key file first.")
    ] = True,
    drop_old: Annotated[
        bool, typer.Option(help="Remove the older keys once all is re-encrypted.")
    ] = False,
) -> None:
    """Re-encrypt every stored secret with the newest key.

    With a key file, a new key is generated and put first. With
    AUTHWIRE_SECRET_KEYS, put the new key first yourself, then run this.
    """
    settings = Settings()
    uses_file = settings.secret_keys is None
    if uses_file and new_key:
        keys = load_or_create_key_file(settings.data_dir)
        keys.insert(0, generate_key().encode("ascii"))
        write_key_file(settings.data_dir, keys)
        typer.echo(f"added a new key to {key_file_path(settings.data_dir)}")
    keyring = load_keyring(settings)

    async def work(_runtime: Runtime, session: AsyncSession) -> int:
        return await reencrypt_all(session, keyring)

    count = _run(work)
    typer.echo(f"re-encrypted {count} values with the newest key")
    if drop_old:
        if not uses_file:
            typer.echo("remove the old keys from AUTHWIRE_SECRET_KEYS yourself")
        else:
            write_key_file(
                settings.data_dir, load_or_create_key_file(settings.data_dir)[:1]
            )
            typer.echo("removed the older keys from the key file")


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
            raise _fail("the passwords differ; nothing was created")
    else:
        raise _fail("give --password-stdin, or --no-password for an API-only user")

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        await user_service.create_user(
            session, username, password=password, is_superuser=superuser, email=email
        )

    _run(work)
    typer.echo(f"created user {username}" + (" (superuser)" if superuser else ""))


@users_cli.command("list")
def users_list() -> None:
    """List the users."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[User]:
        return list(await session.scalars(select(User).order_by(User.username)))

    for user in _run(work):
        typer.echo(f"{user.username}{'  (superuser)' if user.is_superuser else ''}")


@users_cli.command("grant")
def users_grant(username: str, application: str) -> None:
    """Let a user administer an application (by name or id)."""

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        user = await user_service.get_user(session, username)
        found = await app_service.find_application(session, _OPERATOR, application)
        await app_service.grant_application(session, found, user)

    _run(work)
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

    token = _run(work)
    typer.echo(f"API token {name!r} for {username} (shown only now; store it safely):")
    typer.echo(token)


@apps_cli.command("create")
def applications_create(
    name: str, description: Annotated[str, typer.Option()] = ""
) -> None:
    """Create an application and print it as JSON."""

    async def work(_runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        created = await app_service.create_application(
            session,
            _OPERATOR,
            app_service.ApplicationCreate(name=name, description=description),
        )
        return app_service.ApplicationOut.model_validate(created).model_dump()

    _echo_json(_run(work))


@apps_cli.command("list")
def applications_list() -> None:
    """List applications as JSON."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.visible_applications(session, _OPERATOR)
        return [
            app_service.ApplicationOut.model_validate(a).model_dump() for a in found
        ]

    _echo_json(_run(work))


def _read_json(source: str) -> dict[str, Any]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"the account definition is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _fail("the account definition must be a JSON object")
    return data


def _validated(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise _fail(f"the account definition is not valid: {problems}") from None


async def _account(session: AsyncSession, application: str, account: str) -> Any:
    found = await app_service.find_application(session, _OPERATOR, application)
    for candidate in await account_service.list_accounts(session, found.id):
        if str(candidate.id) == account or candidate.name == account:
            return candidate
    raise _fail(f"application {application!r} has no auth account {account!r}")


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
    data = _validated(AuthAccountCreate, _read_json(definition))

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await app_service.find_application(session, _OPERATOR, application)
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

    _echo_json(_run(work))


@accounts_cli.command("update")
def accounts_update(application: str, account: str, definition: str) -> None:
    """Change an auth account from a JSON object of the fields to change."""
    data = _validated(AuthAccountUpdate, _read_json(definition))

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

    _echo_json(_run(work))


@accounts_cli.command("list")
def accounts_list(application: str) -> None:
    """List an application's auth accounts with their status."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, _OPERATOR, application)
        accounts = await account_service.list_accounts(session, found.id)
        return [
            account_service.account_out(
                a, runtime.settings, runtime.keyring
            ).model_dump(mode="json")
            for a in accounts
        ]

    _echo_json(_run(work))


@accounts_cli.command("show")
def accounts_show(application: str, account: str) -> None:
    """Show one auth account (secrets are never shown, only whether held)."""

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await _account(session, application, account)
        out = account_service.account_out(found, runtime.settings, runtime.keyring)
        return out.model_dump(mode="json")

    _echo_json(_run(work))


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

    typer.echo(_run(work))


@webhooks_cli.command("create")
def webhooks_create(
    application: str,
    url: str,
    description: Annotated[str, typer.Option(help="What receives them.")] = "",
) -> None:
    """Add a webhook endpoint; its signing secret is printed once, last."""
    try:
        data = notification_endpoints.WebhookEndpointCreate(
            url=url, description=description
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise _fail(f"the webhook endpoint is not valid: {problems}") from None

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[int, str]:
        found = await app_service.find_application(session, _OPERATOR, application)
        endpoint, secret = await notification_endpoints.create_endpoint(
            session, runtime.keyring, runtime.settings, found.id, data
        )
        return endpoint.id, secret

    endpoint_id, secret = _run(work)
    typer.echo(f"webhook endpoint {endpoint_id} added to {application}: {url}")
    typer.echo("signing secret (shown only now; store it in the receiver):")
    typer.echo(secret)


@webhooks_cli.command("list")
def webhooks_list(application: str) -> None:
    """List an application's webhook endpoints as JSON (without secrets)."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, _OPERATOR, application)
        endpoints = await notification_endpoints.list_endpoints(session, found.id)
        return [
            notification_endpoints.WebhookEndpointOut.model_validate(e).model_dump(
                mode="json"
            )
            for e in endpoints
        ]

    _echo_json(_run(work))


@webhooks_cli.command("delete")
def webhooks_delete(application: str, endpoint_id: int) -> None:
    """Remove a webhook endpoint; deliveries still waiting for it are dropped."""

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        found = await app_service.find_application(session, _OPERATOR, application)
        endpoint = await notification_endpoints.get_endpoint(
            session, found.id, endpoint_id
        )
        await session.delete(endpoint)

    _run(work)
    typer.echo(f"webhook endpoint {endpoint_id} removed from {application}")


def main() -> None:
    cli()
