"""Webhook endpoints told when an account needs reauthorization or recovers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from authwire import applications as app_service
from authwire.cli.common import (
    OPERATOR,
    echo_json,
    run,
    validated,
)
from authwire.notifications import endpoints as notification_endpoints
from authwire.runtime import Runtime

webhooks_cli = typer.Typer(
    help="Webhook endpoints told when an account needs reauthorization or recovers.",
    no_args_is_help=True,
)


@webhooks_cli.command("create")
def webhooks_create(
    application: str,
    url: str,
    description: Annotated[str, typer.Option(help="What receives them.")] = "",
) -> None:
    """Add a webhook endpoint; its signing secret is printed once, last."""
    data = validated(
        notification_endpoints.WebhookEndpointCreate,
        {"url": url, "description": description},
        "webhook endpoint",
    )

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[int, str]:
        found = await app_service.find_application(session, OPERATOR, application)
        endpoint, secret = await notification_endpoints.create_endpoint(
            session, runtime.keyring, runtime.settings, found.id, data
        )
        return endpoint.id, secret

    endpoint_id, secret = run(work)
    typer.echo(f"webhook endpoint {endpoint_id} added to {application}: {url}")
    typer.echo("signing secret (shown only now; store it in the receiver):")
    typer.echo(secret)


@webhooks_cli.command("list")
def webhooks_list(application: str) -> None:
    """List an application's webhook endpoints as JSON (without secrets)."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, OPERATOR, application)
        endpoints = await notification_endpoints.list_endpoints(session, found.id)
        return [
            notification_endpoints.WebhookEndpointOut.model_validate(e).model_dump(
                mode="json"
            )
            for e in endpoints
        ]

    echo_json(run(work))


@webhooks_cli.command("delete")
def webhooks_delete(application: str, endpoint_id: int) -> None:
    """Remove a webhook endpoint; deliveries still waiting for it are dropped."""

    async def work(_runtime: Runtime, session: AsyncSession) -> None:
        found = await app_service.find_application(session, OPERATOR, application)
        endpoint = await notification_endpoints.get_endpoint(
            session, found.id, endpoint_id
        )
        await session.delete(endpoint)

    run(work)
    typer.echo(f"webhook endpoint {endpoint_id} removed from {application}")
