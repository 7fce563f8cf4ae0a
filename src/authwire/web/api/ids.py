"""Row ids in API paths: whole numbers that fit the database's id columns.

An id the columns cannot hold (0, a negative number, or one past 2**31 - 1)
is refused with a 422 that names the parameter, rather than reaching the
database, where it would overflow (SQLite) or be out of range (PostgreSQL).
The bounds are also written into /openapi.json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from authwire.db.models import MAX_ROW_ID


def _row_id(what: str) -> BeforeValidator:
    problem = (
        f"must be the id of {what}, a whole number from 1 to {MAX_ROW_ID} "
        "(the `id` of one listed or created through the API)."
    )

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
            raise PydanticCustomError("invalid_id", problem)
        return int(text)

    return BeforeValidator(check)


def _in_path(what: str) -> Any:
    return Path(ge=1, le=MAX_ROW_ID, description=f"The id of {what}.")


ApplicationId = Annotated[int, _in_path("an application"), _row_id("an application")]
AccountId = Annotated[int, _in_path("an auth account"), _row_id("an auth account")]
EndpointId = Annotated[
    int, _in_path("a webhook endpoint"), _row_id("a webhook endpoint")
]
ProviderId = Annotated[
    int, _in_path("a web service provider"), _row_id("a web service provider")
]
MethodId = Annotated[
    int, _in_path("a web service method"), _row_id("a web service method")
]
