"""The root of the `authwire` command, which the other modules add to."""

from __future__ import annotations

import typer

cli = typer.Typer(
    help="Authwire: credentials, OAuth 2.0 token keeping and web service calls.",
    no_args_is_help=True,
    add_completion=False,
)
