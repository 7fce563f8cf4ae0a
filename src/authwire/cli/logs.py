"""`authwire logs`: search an application's web service logs, or follow the
calls as they are made.

One line per entry (time, id, method, status, outcome, duration, error), or
with --json the whole entry as one JSON object a line, for `jq` and the like.
Entries are printed as stored: the call path redacted them before writing.
Times are UTC, printed and read alike.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.applications import find_application
from authwire.calls.logs import (
    MAX_PAGE_SIZE,
    MAX_REFERENCE_ID,
    LogEntryOut,
    LogFilter,
    LogSource,
    decode_cursor,
    list_entries,
    list_newer,
    newest_entry_id,
)
from authwire.cli.common import OPERATOR, fail
from authwire.db.models import AuthAccount, WebServiceMethod
from authwire.errors import AuthwireError, InvalidInputError
from authwire.runtime import Runtime, open_runtime
from authwire.settings import Settings

T = TypeVar("T")

logs_cli = typer.Typer(
    help="Web service logs: search them, or follow new calls as they are made.",
    no_args_is_help=True,
)

# How far back from the newest entry each look for new ones reaches: an
# entry can be seen after newer ones (see `list_newer`), by as many as the
# log writers of other processes commit meanwhile.
_LATE_COMMIT_WINDOW = 2000

_AGE = re.compile(r"(\d+)\s*([smhd])")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SOURCES = ", ".join(source.value for source in LogSource)
_KINDS = {WebServiceMethod: "web service method", AuthAccount: "auth account"}
_ENTRY = TypeAdapter(LogEntryOut)

MethodOption = Annotated[
    str | None, typer.Option("--method", help="A web service method: name or id.")
]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="An auth account: name or id.")
]
SuccessOption = Annotated[
    bool | None,
    typer.Option(
        "--success/--failed", help="Successful calls only, or failed calls only."
    ),
]
SourceOption = Annotated[
    str | None, typer.Option("--source", help=f"What made the call: {_SOURCES}.")
]
WorkflowOption = Annotated[
    int | None,
    typer.Option("--workflow", min=1, max=MAX_REFERENCE_ID, help="A workflow's id."),
]
RunOption = Annotated[
    int | None,
    typer.Option("--run", min=1, max=MAX_REFERENCE_ID, help="A workflow run's id."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Whole entries, one JSON object a line.")
]


@dataclass(frozen=True)
class _Filters:
    """The filters as typed: names and times still to be resolved."""

    method: str | None = None
    account: str | None = None
    success: bool | None = None
    source: str | None = None
    workflow: int | None = None
    run: int | None = None
    since: str | None = None
    until: str | None = None


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open a runtime, run `work`, and report errors as the other commands do.

    Unlike `authwire.cli.common.run`, no session is held for the whole of
    `work`: `tail` runs for hours, and on SQLite a transaction left open that
    long keeps the write-ahead log from being checkpointed.
    """

    async def main() -> T:
        runtime = await open_runtime(Settings())
        try:
            return await work(runtime)
        finally:
            await runtime.aclose()

    try:
        return asyncio.run(main())
    except InvalidInputError as exc:
        details = "".join(
            f"\n  {field}: {problem}"
            for field, problem in exc.fields.items()
            if problem not in exc.message
        )
        raise fail(exc.message + details) from None
    except AuthwireError as exc:
        raise fail(exc.message) from None


def parse_time(option: str, text: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (UTC when it names no zone) or an age such as 30m,
    2h or 7d, meaning that long before `now`."""
    age = _AGE.fullmatch(text.strip().lower())
    try:
        if age:
            return now - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInputError.for_field(
            option,
            f"{text!r} is not a time; write an ISO 8601 time such as "
            "2025-03-01T09:30:00Z (UTC when no zone is given) or an age such "
            "as 30m, 2h or 7d.",
        ) from None


async def _named(
    session: AsyncSession,
    model: type[WebServiceMethod] | type[AuthAccount],
    application_id: int,
    ref: str,
    option: str,
) -> int:
    """The id of the application's method or account named `ref`, or
    numbered `ref` when no name matches (a name may be all digits)."""
    owned = select(model.id).where(model.application_id == application_id)
    found = await session.scalar(owned.where(model.name == ref))
    if found is None and ref.isdigit() and int(ref) <= MAX_REFERENCE_ID:
        found = await session.scalar(owned.where(model.id == int(ref)))
    if found is not None:
        return found
    names = list(
        await session.scalars(
            select(model.name)
            .where(model.application_id == application_id)
            .order_by(model.name)
            .limit(20)
        )
    )
    known = ", ".join(repr(name) for name in names) or "none yet"
    raise InvalidInputError.for_field(
        option,
        f"the application has no {_KINDS[model]} named or numbered {ref!r}; "
        f"the names: {known}.",
    )


async def _log_filter(
    session: AsyncSession, application_id: int, typed: _Filters
) -> LogFilter:
    method_id = account_id = source = since = until = None
    if typed.method is not None:
        method_id = await _named(
            session, WebServiceMethod, application_id, typed.method, "--method"
        )
    if typed.account is not None:
        account_id = await _named(
            session, AuthAccount, application_id, typed.account, "--account"
        )
    if typed.source is not None:
        try:
            source = LogSource(typed.source.strip().lower())
        except ValueError:
            raise InvalidInputError.for_field(
                "--source", f"must be one of {_SOURCES}, not {typed.source!r}."
            ) from None
    now = datetime.now(UTC)
    if typed.since is not None:
        since = parse_time("--since", typed.since, now=now)
    if typed.until is not None:
        until = parse_time("--until", typed.until, now=now)
    return LogFilter(
        success=typed.success,
        method_id=method_id,
        account_id=account_id,
        workflow_id=typed.workflow,
        run_id=typed.run,
        source=source,
        since=since,
        until=until,
    )


async def _entries_after(
    session: AsyncSession,
    application_id: int,
    log_filter: LogFilter,
    *,
    after_id: int,
    shown: set[int],
) -> list[LogEntryOut]:
    """The entries that match above `after_id` and are not in `shown`,
    oldest first, however many."""
    entries: list[LogEntryOut] = []
    while True:
        batch = await list_newer(
            session, application_id, log_filter, after_id=after_id, excluding=shown
        )
        entries += batch
        if len(batch) < MAX_PAGE_SIZE:
            return entries
        after_id = batch[-1].id


def entry_line(entry: LogEntryOut) -> str:
    status = "---" if entry.response_status is None else str(entry.response_status)
    outcome = "ok" if entry.success else "FAILED"
    # Error texts may span lines; one entry stays one line.
    error = " ".join((entry.error or "").split())
    return (
        f"{entry.created_at:%Y-%m-%d %H:%M:%S}Z  #{entry.id:<8} "
        f"{entry.method_name:<24} {status:>3}  {outcome:<6} "
        f"{entry.duration_ms:>8.0f} ms  {error}"
    ).rstrip()


def _emit(entry: LogEntryOut, as_json: bool) -> None:
    typer.echo(_ENTRY.dump_json(entry).decode() if as_json else entry_line(entry))


@logs_cli.command("search")
def search(
    application: Annotated[str, typer.Argument(help="The application: name or id.")],
    method: MethodOption = None,
    account: AccountOption = None,
    success: SuccessOption = None,
    source: SourceOption = None,
    workflow: WorkflowOption = None,
    run: RunOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="From this time on: ISO 8601 (UTC unless zoned), or 2h, 7d."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Before this time: ISO 8601 (UTC unless zoned), or 2h, 7d."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Print at most this many entries.")
    ] = 50,
    as_json: JsonOption = False,
) -> None:
    """Print the entries that match every filter given, newest first."""
    typed = _Filters(method, account, success, source, workflow, run, since, until)

    async def work(runtime: Runtime) -> int:
        printed = 0
        async with runtime.sessions() as session:
            found = await find_application(session, OPERATOR, application)
            log_filter = await _log_filter(session, found.id, typed)
            before_id = None
            while printed < limit:
                page = await list_entries(
                    session,
                    found.id,
                    log_filter,
                    limit=min(limit - printed, MAX_PAGE_SIZE),
                    before_id=before_id,
                )
                for entry in page.items:
                    _emit(entry, as_json)
                printed += len(page.items)
                if page.next_cursor is None:
                    break
                before_id = decode_cursor(page.next_cursor)
        return printed

    if _run(work) == 0:
        typer.echo("no web service log entry matches", err=True)


@logs_cli.command("tail")
def tail(
    application: Annotated[str, typer.Argument(help="The application: name or id.")],
    method: MethodOption = None,
    account: AccountOption = None,
    success: SuccessOption = None,
    source: SourceOption = None,
    workflow: WorkflowOption = None,
    run: RunOption = None,
    lines: Annotated[
        int,
        typer.Option(min=0, max=MAX_PAGE_SIZE, help="Recent entries to show first."),
    ] = 10,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between looks for new entries.")
    ] = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Print the entries that match as they are written, until Ctrl-C."""
    typed = _Filters(method, account, success, source, workflow, run)

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await find_application(session, OPERATOR, application)
            log_filter = await _log_filter(session, found.id, typed)
            # Entries up to here are not new, however late they are seen.
            start = high = await newest_entry_id(session, found.id)
            if lines:
                recent = await list_entries(session, found.id, log_filter, limit=lines)
                for entry in reversed(recent.items):
                    _emit(entry, as_json)
        shown: set[int] = set()

        while True:
            await asyncio.sleep(interval)
            async with runtime.sessions() as session:
                # Following the newest entry of all, matching or not, keeps
                # each look short when few entries match.
                newest = await newest_entry_id(session, found.id)
                arrived = await _entries_after(
                    session,
                    found.id,
                    log_filter,
                    after_id=max(start, high - _LATE_COMMIT_WINDOW),
                    shown=shown,
                )
            for entry in arrived:
                _emit(entry, as_json)
                shown.add(entry.id)
            high = max([high, newest, *shown])
            shown = {i for i in shown if i > high - _LATE_COMMIT_WINDOW}

    try:
        _run(work)
    except KeyboardInterrupt:
        pass
