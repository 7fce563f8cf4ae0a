"""Running and maintaining the service: serve, migrate, keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.cli.common import (
    configure_logging,
    fail,
    run,
)
from authwire.cli.root import cli
from authwire.data_dir import ensure_data_dir
from authwire.db import migrate as migrations
from authwire.db.rekey import reencrypt_all
from authwire.runtime import Runtime, load_keyring
from authwire.secrets import (
    generate_key,
    key_file_path,
    load_or_create_key_file,
    write_key_file,
)
from authwire.settings import Settings
from authwire.web.access_log import redact_callback_queries


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
        raise fail(str(exc)) from None
    configure_logging(settings.log_level)
    logging.getLogger(__name__).info(
        "Authwire %s on http://%s:%s (base URL %s; redirect URI %s; database %s)",
        __import__("authwire").__version__,
        settings.host,
        settings.port,
        settings.base_url,
        settings.redirect_uri,
        make_url(settings.effective_database_url).render_as_string(hide_password=True),
    )
    redact_callback_queries()
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
    configure_logging(settings.log_level)
    if settings.is_sqlite:
        ensure_data_dir(settings.data_dir)
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

    count = run(work)
    typer.echo(f"re-encrypted {count} values with the newest key")
    if drop_old:
        if not uses_file:
            typer.echo("remove the old keys from AUTHWIRE_SECRET_KEYS yourself")
        else:
            write_key_file(
                settings.data_dir, load_or_create_key_file(settings.data_dir)[:1]
            )
            typer.echo("removed the older keys from the key file")
