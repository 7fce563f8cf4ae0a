"""Web service logs, read and kept: filtered pages newest first, and retention.

The call path writes the entries, already redacted and with bodies already
cut; this module never changes one, it only lists, shows and deletes them.

Pages are keyed on `id` instead of an offset. Ids only grow, so "older than
the last entry shown" is a range of the same index at any depth: the 100th
page costs what the first does, and entries written while an admin pages
back cannot shift or repeat the entries still to come. The filters on
success, method, account and run each have an index that ends in `id` (see
`WebServiceLog`), so the database reads a page straight off an index in
order, without sorting. `workflow_id`, `source` and the time range have no
index of their own: they are checked on the rows another index yields
(PostgreSQL may instead read a narrow time window off `created_at` and sort
only that window).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import random
from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, cast

import anyio
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs, from_json
from sqlalchemy import (
    CursorResult,
    Integer,
    Row,
    Select,
    bindparam,
    delete,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import WebServiceLog
from authwire.db.types import utcnow
from authwire.errors import InvalidInputError, NotFoundError
from authwire.runtime import Runtime

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 200
# The largest values the id columns hold: entries' ids are BIGINT, the ids
# they refer to (method, account, workflow, run) INTEGER.
MAX_ENTRY_ID = 2**63 - 1
MAX_REFERENCE_ID = 2**31 - 1
_CURSOR_PREFIX = "before:"

BAD_CURSOR = (
    "is not a cursor from this list; pass the next_cursor of the previous page "
    "unchanged, or leave cursor out to start from the newest entry."
)


class LogSource(StrEnum):
    """What made the call."""

    # Test Request, from the method's page or the API.
    TEST = "test"
    # A step of a workflow run; `workflow_id`, `run_id` and `step_key` say which.
    WORKFLOW = "workflow"
    # A direct call through the API.
    API = "api"


@dataclass(frozen=True)
class LogEntryOut:
    """One entry, every column of it, with the header columns (JSON text in
    the table) as objects.

    A pydantic dataclass rather than a model: a page validates each row from
    its values in order, without building a dict of it first, which saves a
    third of the time a page spends outside the database. The query selects
    the columns in the order of these fields.
    """

    id: int
    created_at: datetime
    application_id: int
    source: str
    method_id: int | None
    method_name: str
    account_id: int | None
    account_name: str | None
    workflow_id: int | None
    run_id: int | None
    step_key: str | None
    request_method: str
    request_url: str
    request_headers: dict[str, Any]
    request_body: str | None
    request_body_size: int
    response_status: int | None
    response_headers: dict[str, Any]
    response_body: str | None
    response_body_size: int
    response_body_truncated: bool
    duration_ms: float
    attempts: int
    success: bool
    error: str | None
    token_refreshed: bool


ReferenceId = Annotated[int, Field(ge=1, le=MAX_REFERENCE_ID)]


class LogFilter(BaseModel):
    """What to narrow a list of entries to; a field left as None does not
    narrow. `since` is inclusive and `until` exclusive, so that consecutive
    windows neither overlap nor leave a gap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    success: bool | None = None
    method_id: ReferenceId | None = None
    account_id: ReferenceId | None = None
    workflow_id: ReferenceId | None = None
    run_id: ReferenceId | None = None
    source: LogSource | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class LogPage(BaseModel):
    items: list[LogEntryOut]
    # Pass it back as `cursor` for the next, older page; None on the last page.
    next_cursor: str | None


def encode_cursor(entry_id: int) -> str:
    """The opaque cursor for the page after the entry `entry_id`."""
    text = f"{_CURSOR_PREFIX}{entry_id}".encode("ascii")
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id that `cursor` pages back from, or a 422 naming `cursor`.

    Cursors are opaque so that clients pass them back rather than build
    them, which leaves us free to change what they hold.
    """
    padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
    try:
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInputError.for_field("cursor", BAD_CURSOR) from None
    digits = text.removeprefix(_CURSOR_PREFIX)
    if digits == text or not digits.isdigit() or not 0 < int(digits) <= MAX_ENTRY_ID:
        raise InvalidInputError.for_field("cursor", BAD_CURSOR)
    return int(digits)


def _check_page(filter: LogFilter, limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError.for_field(
            "limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}."
        )
    if filter.since and filter.until and filter.since >= filter.until:
        raise InvalidInputError.for_field(
            "until",
            "must be later than since (since is inclusive, until exclusive); "
            "swap the two times or leave one out.",
        )


# The filters compared for equality, each served by an index that ends in id
# (but workflow_id and source, which are checked on the rows another yields).
_EQUALITY_FILTERS = (
    "success",
    "method_id",
    "account_id",
    "workflow_id",
    "run_id",
    "source",
)
_COLUMN_NAMES = tuple(field.name for field in fields(LogEntryOut))
_COLUMNS = tuple(WebServiceLog.__table__.c[name] for name in _COLUMN_NAMES)
_HEADER_COLUMNS = {
    _COLUMN_NAMES.index(name): name for name in ("request_headers", "response_headers")
}
_ENTRIES = TypeAdapter(list[LogEntryOut])


@functools.lru_cache(maxsize=256)
def _statement(
    names: frozenset[str], *, newest_first: bool, split_success: bool
) -> Select[Any]:
    """The query for one combination of filters, each value a bound
    parameter named after its filter (plus `rows`, and `before_id` or
    `after_id` and `excluding`).

    Built once per combination: building it takes a third as long as SQLite
    takes to read a page off the index, which the page would pay each time.

    A method's index is ordered by (method, success, id), so "one method,
    either outcome" lies in two runs of it. Read as one, the database would
    sort every entry of the method to find the newest; with `split_success`,
    each run (successes, failures) gives its newest `rows` in order and only
    those twice `rows` are merged.
    """

    def matching(success: bool | None) -> Select[Any]:
        column = WebServiceLog.__table__.c
        conditions = [column.application_id == bindparam("application_id")]
        conditions += [
            column[name] == bindparam(name)
            for name in _EQUALITY_FILTERS
            if name in names
        ]
        if success is not None:
            conditions.append(column.success == success)
        if "since" in names:
            conditions.append(column.created_at >= bindparam("since"))
        if "until" in names:
            conditions.append(column.created_at < bindparam("until"))
        if "before_id" in names:
            conditions.append(column.id < bindparam("before_id"))
        if "after_id" in names:
            conditions.append(column.id > bindparam("after_id"))
        if "excluding" in names:
            shown = bindparam("excluding", type_=Integer, expanding=True)
            conditions.append(column.id.not_in(shown))
        order = column.id.desc() if newest_first else column.id
        rows = bindparam("rows", type_=Integer)
        return select(*_COLUMNS).where(*conditions).order_by(order).limit(rows)

    if not split_success:
        return matching(None)
    # Each run is wrapped as a subquery: SQLite accepts no ORDER BY or LIMIT
    # on a bare part of a UNION.
    runs = [select(matching(outcome).subquery()) for outcome in (True, False)]
    both = union_all(*runs).subquery()
    order = both.c.id.desc() if newest_first else both.c.id
    return select(both).order_by(order).limit(bindparam("rows", type_=Integer))


async def _matching_entries(
    session: AsyncSession,
    application_id: int,
    filter: LogFilter,
    *,
    rows: int,
    newest_first: bool,
    before_id: int | None = None,
    after_id: int | None = None,
    excluding: Collection[int] = (),
) -> list[LogEntryOut]:
    values: dict[str, Any] = filter.model_dump(exclude_none=True)
    if before_id is not None:
        values["before_id"] = before_id
    if after_id is not None:
        values["after_id"] = after_id
    if excluding:
        values["excluding"] = list(excluding)
    statement = _statement(
        frozenset(values),
        newest_first=newest_first,
        split_success=filter.method_id is not None and filter.success is None,
    )
    # Through the session's connection: for a query that reads columns, not
    # objects, the ORM's execution layer adds only time.
    connection = await session.connection()
    result = await connection.execute(
        statement, {**values, "application_id": application_id, "rows": rows}
    )
    return _entries(result.all())


def _headers(entry_id: int, column: str, text: str) -> dict[str, Any]:
    try:
        value = from_json(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        # The writer stores a JSON object; anything else is shown as no
        # headers rather than failing the whole page.
        log.warning(
            "web service log entry %s: %s is not a JSON object", entry_id, column
        )
        return {}
    return value


def _entries(rows: Sequence[Row[Any]]) -> list[LogEntryOut]:
    entries = []
    for row in rows:
        values = list(row)
        for position, column in _HEADER_COLUMNS.items():
            values[position] = _headers(values[0], column, values[position])
        entries.append(ArgsKwargs(tuple(values)))
    # One validation for the page, not one per entry: it is the larger part
    # of the time the page takes besides the query.
    return _ENTRIES.validate_python(entries)


async def list_entries(
    session: AsyncSession,
    application_id: int,
    filter: LogFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> LogPage:
    """One page of an application's entries that match, newest first.

    `before_id` (from `decode_cursor`) pages further back. The page holds at
    most `limit` entries; one more is read to tell whether another page
    follows, so that the last page has no cursor rather than one that leads
    to an empty page.
    """
    _check_page(filter, limit)
    entries = await _matching_entries(
        session,
        application_id,
        filter,
        rows=limit + 1,
        newest_first=True,
        before_id=before_id,
    )
    items = entries[:limit]
    more = len(entries) > limit
    return LogPage(
        items=items, next_cursor=encode_cursor(items[-1].id) if more else None
    )


async def list_newer(
    session: AsyncSession,
    application_id: int,
    filter: LogFilter,
    *,
    after_id: int,
    excluding: Collection[int] = (),
    limit: int = MAX_PAGE_SIZE,
) -> list[LogEntryOut]:
    """The entries that match with an id above `after_id`, but those in
    `excluding`, oldest first: what arrived since a follower last looked.

    Ids are drawn when entries are written but seen when their transaction
    commits, and the log writer commits entries in batches, so an entry may
    appear after newer ones. A follower looks back from the newest id it has
    seen and passes the ids it has shown as `excluding`.
    """
    _check_page(filter, limit)
    return await _matching_entries(
        session,
        application_id,
        filter,
        rows=limit,
        newest_first=False,
        after_id=after_id,
        excluding=excluding,
    )


async def newest_entry_id(session: AsyncSession, application_id: int) -> int:
    """The id of the application's newest entry, or 0 when it has none: where
    a follower starts."""
    newest = await session.scalar(
        select(WebServiceLog.id)
        .where(WebServiceLog.application_id == application_id)
        .order_by(WebServiceLog.id.desc())
        .limit(1)
    )
    return newest or 0


async def get_entry(
    session: AsyncSession, application_id: int, entry_id: int
) -> LogEntryOut:
    query = select(*_COLUMNS).where(
        WebServiceLog.application_id == application_id, WebServiceLog.id == entry_id
    )
    rows = (await session.execute(query)).all()
    if not rows:
        raise NotFoundError(
            f"There is no web service log entry {entry_id} in application "
            f"{application_id}. Entries older than the retention period "
            "(AUTHWIRE_LOG_RETENTION_DAYS) are deleted."
        )
    return _entries(rows)[0]


async def delete_older_than(
    session: AsyncSession, cutoff: datetime, *, batch_size: int = 5000
) -> int:
    """Delete the entries written before `cutoff`; return how many.

    Each batch is its own transaction, committed here, so that no delete holds
    locks for long: on SQLite the calls that log wait for the one writer, and
    a large first clean-up (retention just turned on) must not stall them.
    On PostgreSQL, rows another process is deleting at the same moment are
    skipped rather than waited for; that process deletes them.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    total = 0
    while True:
        doomed = (
            select(WebServiceLog.id)
            .where(WebServiceLog.created_at < cutoff)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        result = await session.execute(
            delete(WebServiceLog)
            .where(WebServiceLog.id.in_(doomed))
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        deleted = cast(CursorResult[Any], result).rowcount
        total += deleted
        if deleted < batch_size:
            break
    if total:
        log.info(
            "retention: deleted %s web service log entries written before %s",
            total,
            cutoff.isoformat(timespec="seconds"),
        )
    else:
        log.debug("retention: no web service log entry is older than %s", cutoff)
    return total


async def run_retention(runtime: Runtime, stop: anyio.Event) -> None:
    """Delete entries older than AUTHWIRE_LOG_RETENTION_DAYS, at start and
    then every AUTHWIRE_LOG_RETENTION_INTERVAL_SECONDS, until `stop` is set.

    Every serving process may run it: the deletes of two processes do not
    collide (see `delete_older_than`), and a failed round is logged and tried
    again at the next one. Each wait is varied by up to a tenth, so that
    processes started together drift apart.
    """
    days = runtime.settings.log_retention_days
    if days == 0:
        log.info("web service logs are kept forever (AUTHWIRE_LOG_RETENTION_DAYS=0)")
        return
    interval = runtime.settings.log_retention_interval_seconds
    while not stop.is_set():
        try:
            async with runtime.sessions() as session:
                await delete_older_than(session, utcnow() - timedelta(days=days))
        except Exception:
            log.exception(
                "retention: deleting old web service log entries failed; "
                "trying again in %s s",
                interval,
            )
        with anyio.move_on_after(interval * random.uniform(0.9, 1.1)):  # noqa: S311
            await stop.wait()
