"""/api/v1/applications/{application_id}/web-service-logs

Every query parameter is checked with a message that says what to write
instead, and a parameter this list does not know is refused rather than
ignored: a misspelt filter would otherwise answer with every entry, which
looks like a filter that matched everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from authwire.applications import administered_application
from authwire.calls.logs import (
    MAX_ENTRY_ID,
    MAX_PAGE_SIZE,
    MAX_REFERENCE_ID,
    LogEntryOut,
    LogFilter,
    LogPage,
    LogSource,
    decode_cursor,
    get_entry,
    list_entries,
)
from authwire.web.api.ids import ApplicationId
from authwire.web.deps import SessionDep, UserDep

router = APIRouter(
    prefix="/applications/{application_id}/web-service-logs",
    tags=["web service logs"],
)

_TIME_EXAMPLE = "2025-03-01T09:30:00Z or 2025-03-01T10:30:00+01:00"
_SOURCES = ", ".join(source.value for source in LogSource)


def _parsed(parse: Callable[[str], Any], problem: str) -> BeforeValidator:
    """Parse a query value with `parse`; when it cannot, the 422 for that
    parameter says `problem` instead of the validator's generic message."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value.strip())
        except ValueError:
            raise PydanticCustomError("invalid_value", problem) from None

    return BeforeValidator(check)


def _id_up_to(largest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= largest:
            raise ValueError(text)
        return int(text)

    return parse


def _page_size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ValueError(text)
    return int(text)


def _yes_or_no(text: str) -> bool:
    answers = {"true": True, "1": True, "false": False, "0": False}
    if text.lower() not in answers:
        raise ValueError(text)
    return answers[text.lower()]


def _source(text: str) -> LogSource:
    return LogSource(text.lower())


def _aware_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the first or last hours of year 1 or 9999
        raise ValueError(text) from None


def _id_of(what: str, parameter: str, largest: int) -> BeforeValidator:
    return _parsed(
        _id_up_to(largest),
        f"must be the id of {what}, a whole number from 1 to {largest}, as in "
        f"{parameter}=12.",
    )


# In a URL, `+` means a space: an offset such as +01:00 is written %2B01:00.
_AWARE_TIME = _parsed(
    _aware_time,
    f"must be an ISO 8601 time with its time zone, such as {_TIME_EXAMPLE} "
    "(in a URL, write the + of an offset as %2B).",
)


Success = Annotated[
    bool | None,
    _parsed(
        _yes_or_no,
        "must be true (successful calls only) or false (failed calls only); "
        "leave it out for both.",
    ),
    Query(description="true: successful calls only; false: failed calls only."),
]
MethodId = Annotated[
    int | None, _id_of("a web service method", "method_id", MAX_REFERENCE_ID), Query()
]
AccountId = Annotated[
    int | None, _id_of("an auth account", "account_id", MAX_REFERENCE_ID), Query()
]
WorkflowId = Annotated[
    int | None, _id_of("a workflow", "workflow_id", MAX_REFERENCE_ID), Query()
]
RunId = Annotated[
    int | None, _id_of("a workflow run", "run_id", MAX_REFERENCE_ID), Query()
]
Source = Annotated[
    LogSource | None,
    _parsed(_source, f"must be one of {_SOURCES}."),
    Query(description="What made the call."),
]
Since = Annotated[
    datetime | None,
    _AWARE_TIME,
    Query(description="Entries written at this time or later (ISO 8601, zoned)."),
]
Until = Annotated[
    datetime | None,
    _AWARE_TIME,
    Query(description="Entries written before this time (ISO 8601, zoned)."),
]
Limit = Annotated[
    int,
    _parsed(_page_size, f"must be a whole number from 1 to {MAX_PAGE_SIZE}."),
    Query(description=f"Entries a page, 1 to {MAX_PAGE_SIZE}."),
]
Cursor = Annotated[
    str | None,
    Query(description="The next_cursor of the previous page, unchanged."),
]
EntryId = Annotated[
    int,
    _id_of("a log entry", "entry_id", MAX_ENTRY_ID),
    Path(description="The entry's id."),
]


def _log_filter(
    success: Success = None,
    method_id: MethodId = None,
    account_id: AccountId = None,
    workflow_id: WorkflowId = None,
    run_id: RunId = None,
    source: Source = None,
    since: Since = None,
    until: Until = None,
) -> LogFilter:
    return LogFilter(
        success=success,
        method_id=method_id,
        account_id=account_id,
        workflow_id=workflow_id,
        run_id=run_id,
        source=source,
        since=since,
        until=until,
    )


FilterDep = Annotated[LogFilter, Depends(_log_filter)]


@router.get("", response_model=LogPage)
async def list_web_service_logs(
    application_id: ApplicationId,
    session: SessionDep,
    user: UserDep,
    log_filter: FilterDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LogPage:
    """The application's web service log entries that match every filter
    given, newest first. Pass `next_cursor` back as `cursor` for the next
    (older) page; it is null on the last page."""
    await administered_application(session, user, application_id)
    before_id = decode_cursor(cursor) if cursor else None
    return await list_entries(
        session, application_id, log_filter, limit=limit, before_id=before_id
    )


@router.get("/{entry_id}", response_model=LogEntryOut)
async def get_web_service_log(
    application_id: ApplicationId, entry_id: EntryId, session: SessionDep, user: UserDep
) -> LogEntryOut:
    await administered_application(session, user, application_id)
    return await get_entry(session, application_id, entry_id)
