"""Errors as JSON bodies a person can act on: `{"error", "message", "fields"}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from authwire.errors import (
    AuthenticationRequiredError,
    AuthwireError,
    json_type_name,
)

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: dict[str, str] = {}


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a known field; check its spelling."
    if kind == "missing":
        return "is required."
    message = str(error.get("msg", "is not valid"))
    if not message[1:2].isupper():  # keep JSON, URL and the like as they are
        message = message[0].lower() + message[1:]
    return message + ("" if message.endswith(".") else ".")


# pydantic's error types for a value that should have been an object.
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})


def _body_problem(error: dict[str, Any]) -> str | None:
    """A message for a body that is not a JSON object at all, or None when the
    error is about a field in it."""
    location = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid" and location[:1] == ("body",):
        where = f" (at character {location[1]})" if len(location) > 1 else ""
        reason = str(error.get("ctx", {}).get("error", "it cannot be parsed"))
        return f"The request body is not valid JSON{where}: {reason}."
    if location != ("body",):
        return None
    if error.get("type") == "missing":
        return (
            "The request has no body: send a JSON object with the header "
            "Content-Type: application/json."
        )
    if isinstance(error.get("input"), bytes):  # left unparsed: not sent as JSON
        return (
            "The request body was not read as JSON: send it as a JSON object "
            "with the header Content-Type: application/json (with curl, add "
            "-H 'Content-Type: application/json')."
        )
    if error.get("type") in _NOT_AN_OBJECT:
        return (
            "The request body must be a JSON object ({...}), not "
            f"{json_type_name(error.get('input'))}."
        )
    return None


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """A message for a JSON body FastAPI could not even decode (its bare 400,
    raised from the decoding error), or None for any other HTTP error."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (
            "The request body is not valid JSON: byte "
            f"{cause.start} is not UTF-8 text. Send the JSON object encoded "
            "as UTF-8."
        )
    if cause is not None and exc.detail == "There was an error parsing the body":
        return (
            "The request body could not be read as JSON; send a JSON object "
            "encoded as UTF-8 with the header Content-Type: application/json."
        )
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthwireError)
    async def _authwire_error(_request: Request, exc: AuthwireError) -> JSONResponse:
        body = ErrorOut(
            error=exc.code, message=exc.message, fields=getattr(exc, "fields", {})
        )
        headers = (
            {"WWW-Authenticate": "Bearer"}
            if isinstance(exc, AuthenticationRequiredError)
            else None
        )
        return JSONResponse(
            body.model_dump(), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for error in exc.errors():
            problem = _body_problem(error)
            if problem is not None:
                body = ErrorOut(error="invalid_input", message=problem)
                return JSONResponse(body.model_dump(), status_code=422)
            fields.setdefault(
                _field_name(tuple(error.get("loc", ()))), _validation_message(error)
            )
        first = next(iter(fields.items()), ("body", "is not valid."))
        body = ErrorOut(
            error="invalid_input",
            message=f"The request is not valid: {first[0]} {first[1]}",
            fields=fields,
        )
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = _unreadable_body(exc)
        if unreadable is not None:
            body = ErrorOut(error="invalid_input", message=unreadable)
            return JSONResponse(body.model_dump(), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = (
                "There is nothing at this address; see /openapi.json for the routes."
            )
        body = ErrorOut(error=code, message=message)
        return JSONResponse(
            body.model_dump(), status_code=exc.status_code, headers=exc.headers
        )
