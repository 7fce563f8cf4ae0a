"""What the commands share: running work in a runtime, errors, output.

The CLI works on the database directly, as the operator of the installation;
commands that act for a user (authorize) name that user with --as.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import User
from authwire.errors import AuthwireError, InvalidInputError
from authwire.runtime import (
    Runtime,
    open_runtime,
    quiet_http_client_logs,
)
from authwire.settings import Settings

T = TypeVar("T")

# The operator at the console may do what a superuser may.
OPERATOR = User(id=0, username="(operator)", is_superuser=True)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_http_client_logs()


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def run(work: Callable[[Runtime, AsyncSession], Awaitable[T]]) -> T:
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
        raise fail(exc.message + details) from None
    except AuthwireError as exc:
        raise fail(exc.message) from None


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def read_json(source: str) -> dict[str, Any]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"the account definition is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail("the account definition must be a JSON object")
    return data


def validated(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"the account definition is not valid: {problems}") from None
