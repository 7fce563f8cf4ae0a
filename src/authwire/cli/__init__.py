"""The `authwire` command: serve, migrate, keys, users, API tokens, and the
same operations as the API for scripts, one module per group of commands."""

from __future__ import annotations

from authwire.cli import server  # noqa: F401  (registers its commands on cli)
from authwire.cli.accounts import accounts_cli, apps_cli
from authwire.cli.calls import methods_cli, providers_cli
from authwire.cli.logs import logs_cli
from authwire.cli.root import cli
from authwire.cli.users import tokens_cli, users_cli
from authwire.cli.webhooks import webhooks_cli

cli.add_typer(users_cli, name="users")
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(apps_cli, name="applications")
cli.add_typer(accounts_cli, name="accounts")
cli.add_typer(webhooks_cli, name="webhooks")
cli.add_typer(providers_cli, name="providers")
cli.add_typer(methods_cli, name="methods")
cli.add_typer(logs_cli, name="logs")


def main() -> None:
    cli()
