"""Web service providers and methods, and calling them (Test Request)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from authwire import applications as app_service
from authwire.calls import methods as method_service
from authwire.calls import providers as provider_service
from authwire.calls.executor import CallContext
from authwire.cli.common import OPERATOR, echo_json, fail, read_json, run, validated
from authwire.runtime import Runtime

providers_cli = typer.Typer(help="Web service providers.", no_args_is_help=True)
methods_cli = typer.Typer(help="Web service methods.", no_args_is_help=True)


@providers_cli.command("create")
def providers_create(
    application: str,
    name: str,
    base_url: str,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a provider: a remote system's name and base URL."""
    data = validated(
        provider_service.ProviderCreate,
        {"name": name, "base_url": base_url, "description": description},
        "web service provider",
    )

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await app_service.find_application(session, OPERATOR, application)
        created = await provider_service.create_provider(
            session,
            runtime.settings,
            found.id,
            data,
        )
        await session.commit()
        await session.refresh(created)
        return provider_service.ProviderOut.model_validate(created).model_dump(
            mode="json"
        )

    echo_json(run(work))


@providers_cli.command("list")
def providers_list(application: str) -> None:
    """List an application's providers."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, OPERATOR, application)
        return [
            provider_service.ProviderOut.model_validate(p).model_dump(mode="json")
            for p in await provider_service.list_providers(session, found.id)
        ]

    echo_json(run(work))


@methods_cli.command("create")
def methods_create(
    application: str,
    definition: Annotated[
        str,
        typer.Argument(help="JSON file with the method, as for the API; - for stdin."),
    ],
) -> None:
    """Create a method from a JSON definition (secret entries stay off the
    command line)."""
    data = validated(
        method_service.MethodCreate,
        read_json(definition, "method definition"),
        "method definition",
    )

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await app_service.find_application(session, OPERATOR, application)
        created = await method_service.create_method(
            session, runtime.keyring, found.id, data
        )
        await session.commit()
        await session.refresh(created)
        return method_service.method_out(created).model_dump(mode="json")

    echo_json(run(work))


@methods_cli.command("list")
def methods_list(application: str) -> None:
    """List an application's methods."""

    async def work(_runtime: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await app_service.find_application(session, OPERATOR, application)
        return [
            method_service.method_out(m).model_dump(mode="json")
            for m in await method_service.list_methods(session, found.id)
        ]

    echo_json(run(work))


@methods_cli.command("test")
def methods_test(
    application: str,
    method: Annotated[str, typer.Argument(help="The method's name or id.")],
    parameters: Annotated[
        str | None,
        typer.Option(help="JSON object of parameters; the saved samples if left out."),
    ] = None,
) -> None:
    """Test Request: call the method now and print the answer (logged as a test)."""
    given: dict[str, Any] | None = None
    if parameters is not None:
        try:
            given = json.loads(parameters)
        except json.JSONDecodeError as exc:
            raise fail(f"--parameters is not valid JSON: {exc}") from None
        if not isinstance(given, dict):
            raise fail("--parameters must be a JSON object, such as '{\"id\": 7}'")

    async def work(runtime: Runtime, session: AsyncSession) -> dict[str, Any]:
        found = await app_service.find_application(session, OPERATOR, application)
        chosen = None
        for candidate in await method_service.list_methods(session, found.id):
            if str(candidate.id) == method or candidate.name == method:
                chosen = candidate
        if chosen is None:
            raise fail(
                f"application {application!r} has no web service method {method!r}"
            )
        values = given if given is not None else json.loads(chosen.sample_parameters)
        await session.close()
        result = await runtime.caller.call(
            found.id, chosen.id, values, CallContext(source="test")
        )
        return result.model_dump(mode="json")

    result = run(work)
    echo_json(result)
    if not result["success"]:
        raise typer.Exit(code=2)
