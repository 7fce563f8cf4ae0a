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
from authwire.errors import AuthwireError, InvalidInputError, json_type_name
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
        raise fail(_with_fields(exc)) from None
    except AuthwireError as exc:
        raise fail(exc.message) from None


def _with_fields(exc: InvalidInputError) -> str:
    """The message, then each field's problem on a line of its own; a lone
    problem that the message already states is not repeated."""
    problems = list(exc.fields.values())
    if len(problems) == 1 and problems[0] in exc.message:
        return exc.message
    return exc.message + "".join(
        f"\n  {field}: {problem}" for field, problem in exc.fields.items()
    )


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def read_json(source: str, what: str) -> dict[str, Any]:
    """The JSON object in the file `source` (`-` for standard input).

    `what` names the kind of definition, such as "method definition", so that
    every error says which input it is about.
    """
    where = "standard input" if source == "-" else source
    place = "on standard input" if source == "-" else f"in {source}"
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise fail(f"cannot read the {what} from {where}: {reason}") from None
    except UnicodeDecodeError:
        raise fail(
            f"cannot read the {what} from {where}: it is not UTF-8 text"
        ) from None
    if not text.strip():
        raise fail(f"the {what} {place} is empty; give a JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            f"the {what} {place} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise fail(
            f"the {what} {place} must be a JSON object ({{...}}), "
            f"not {json_type_name(data)}"
        )
    return data


def validated(model: type[Any], data: dict[str, Any], what: str) -> Any:
    """`data` checked by the pydantic `model`; `what` names it in the error."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"the {what} is not valid: {problems}") from None
