"""Reading web service logs through the API: filters, order, keyset pages,
errors that say what to write, and one application's entries kept from
another's admins.

Entries are inserted directly, as the call path would have written them;
`Desk` and `add_entries` are also used by the other log tests.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import event

from authwire.accounts.kinds import AccountKind, AccountStatus
from authwire.applications import grant_application
from authwire.calls.logs import LogFilter, LogSource, list_entries
from authwire.db.models import (
    Application,
    AuthAccount,
    WebServiceLog,
    WebServiceMethod,
    WebServiceProvider,
)
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.users import create_api_token, create_user

METHODS = ("Get ticket", "Create ticket")
ACCOUNTS = ("Desk bot", "Reporter")


@dataclass(frozen=True)
class Desk:
    """An application with two methods and two accounts to log calls of."""

    application_id: int
    name: str
    methods: dict[str, int]
    accounts: dict[str, int]


async def make_desk(runtime: Runtime, name: str = "IT Desk") -> Desk:
    async with runtime.sessions() as session:
        application = Application(name=name)
        session.add(application)
        await session.flush()
        provider = WebServiceProvider(
            application_id=application.id,
            name="Desk API",
            base_url="https://desk.test/api",
        )
        accounts = {
            account: AuthAccount(
                application_id=application.id,
                name=account,
                kind=AccountKind.BASIC.value,
                status=AccountStatus.AUTHORIZED.value,
            )
            for account in ACCOUNTS
        }
        session.add_all([provider, *accounts.values()])
        await session.flush()
        methods = {
            method: WebServiceMethod(
                application_id=application.id,
                provider_id=provider.id,
                name=method,
                http_method="GET",
                url="/tickets",
            )
            for method in METHODS
        }
        session.add_all(methods.values())
        await session.commit()
        return Desk(
            application_id=application.id,
            name=name,
            methods={name: method.id for name, method in methods.items()},
            accounts={name: account.id for name, account in accounts.items()},
        )


def entry(
    desk: Desk,
    *,
    method: str = "Get ticket",
    account: str | None = "Desk bot",
    success: bool = True,
    **columns: Any,
) -> dict[str, Any]:
    """The columns of one entry, as the call path writes them."""
    status = 200 if success else 503
    return {
        "application_id": desk.application_id,
        "created_at": utcnow(),
        "source": "api",
        "method_id": desk.methods[method],
        "method_name": method,
        "account_id": desk.accounts[account] if account else None,
        "account_name": account,
        "request_method": "GET",
        "request_url": "https://desk.test/api/tickets/7",
        "request_headers": '{"Accept": "application/json", '
        '"Authorization": "[redacted]"}',
        "response_status": status,
        "response_headers": '{"Content-Type": "application/json"}',
        "response_body": '{"id": 7}' if success else '{"error": "busy"}',
        "response_body_size": 9 if success else 17,
        "duration_ms": 42.5,
        "success": success,
        "error": None if success else "HTTP 503 from desk.test",
        **columns,
    }


async def add_entries(runtime: Runtime, *entries: dict[str, Any]) -> list[int]:
    """Insert entries in order; their ids come back in the same order."""
    async with runtime.sessions() as session:
        rows = [WebServiceLog(**columns) for columns in entries]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


def logs_path(desk: Desk, entry_id: int | None = None) -> str:
    path = f"/api/v1/applications/{desk.application_id}/web-service-logs"
    return path if entry_id is None else f"{path}/{entry_id}"


async def listed_ids(
    api: httpx2.AsyncClient, desk: Desk, params: dict[str, Any]
) -> list[int]:
    response = await api.get(logs_path(desk), params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# A day of calls, one an hour: both methods, both accounts (and none), every
# source, one call in five failed, workflow calls in runs of eight hours.
def a_day_of_calls(desk: Desk, start: datetime) -> list[dict[str, Any]]:
    calls = []
    for hour in range(24):
        source = ("api", "workflow", "test")[hour % 3]
        calls.append(
            entry(
                desk,
                method=METHODS[hour % 2],
                account=None if hour % 5 == 4 else ACCOUNTS[hour % 3 != 0],
                success=hour % 5 != 3,
                source=source,
                workflow_id=7 if source == "workflow" else None,
                run_id=100 + hour // 8 if source == "workflow" else None,
                created_at=start + timedelta(hours=hour),
            )
        )
    return calls


Case = tuple[
    Callable[[Desk, datetime], dict[str, Any]],
    Callable[[Desk, datetime, dict[str, Any]], bool],
]

FILTERS: dict[str, Case] = {
    "successful": (
        lambda desk, start: {"success": "true"},
        lambda desk, start, e: e["success"],
    ),
    "failed": (
        lambda desk, start: {"success": "false"},
        lambda desk, start, e: not e["success"],
    ),
    "one method, either outcome": (
        lambda desk, start: {"method_id": desk.methods["Create ticket"]},
        lambda desk, start, e: e["method_name"] == "Create ticket",
    ),
    "one method's failures": (
        lambda desk, start: {"method_id": desk.methods["Get ticket"], "success": 0},
        lambda desk, start, e: e["method_name"] == "Get ticket" and not e["success"],
    ),
    "one account": (
        lambda desk, start: {"account_id": desk.accounts["Reporter"]},
        lambda desk, start, e: e["account_name"] == "Reporter",
    ),
    "one workflow": (
        lambda desk, start: {"workflow_id": 7},
        lambda desk, start, e: e["workflow_id"] == 7,
    ),
    "one run": (
        lambda desk, start: {"run_id": 101},
        lambda desk, start, e: e["run_id"] == 101,
    ),
    "one source": (
        lambda desk, start: {"source": "test"},
        lambda desk, start, e: e["source"] == "test",
    ),
    "since, inclusive": (
        lambda desk, start: {"since": (start + timedelta(hours=20)).isoformat()},
        lambda desk, start, e: e["created_at"] >= start + timedelta(hours=20),
    ),
    "until, exclusive": (
        lambda desk, start: {"until": (start + timedelta(hours=3)).isoformat()},
        lambda desk, start, e: e["created_at"] < start + timedelta(hours=3),
    ),
    "a window and an outcome": (
        lambda desk, start: {
            "since": (start + timedelta(hours=6)).isoformat(),
            "until": (start + timedelta(hours=18)).isoformat(),
            "success": "false",
        },
        lambda desk, start, e: (
            start + timedelta(hours=6) <= e["created_at"] < start + timedelta(hours=18)
            and not e["success"]
        ),
    ),
}


async def test_each_filter_keeps_exactly_the_entries_it_names_newest_first(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    start = utcnow().replace(microsecond=0) - timedelta(days=2)
    calls = a_day_of_calls(desk, start)
    ids = await add_entries(runtime, *calls)

    for case, (params, keeps) in FILTERS.items():
        listed = await listed_ids(api, desk, params(desk, start))

        expected = [
            i for i, call in zip(ids, calls, strict=True) if keeps(desk, start, call)
        ]
        assert 0 < len(expected) < len(ids), f"{case}: the case must narrow the list"
        assert listed == sorted(expected, reverse=True), case


async def test_entries_are_listed_newest_first_by_id(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    # Times that disagree with the order of writing: the order is the ids'.
    now = utcnow()
    ids = await add_entries(
        runtime,
        entry(desk, created_at=now),
        entry(desk, created_at=now - timedelta(minutes=5)),
        entry(desk, created_at=now - timedelta(minutes=1)),
    )

    assert await listed_ids(api, desk, {}) == ids[::-1]


@pytest.mark.parametrize(
    "method", [None, "Get ticket"], ids=["all entries", "one method"]
)
async def test_pages_give_every_entry_once_while_new_entries_arrive(
    api: httpx2.AsyncClient, runtime: Runtime, method: str | None
) -> None:
    desk = await make_desk(runtime)
    # Alternating outcomes, so that one method's pages merge both runs of its
    # index.
    existing = await add_entries(
        runtime,
        *[entry(desk, method="Get ticket", success=n % 3 != 0) for n in range(11)],
    )
    params: dict[str, Any] = {"limit": 4}
    if method:
        params["method_id"] = desk.methods[method]

    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        response = await api.get(
            logs_path(desk), params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        # Calls go on while the admin reads.
        await add_entries(runtime, entry(desk), entry(desk, method="Create ticket"))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == existing[::-1]


async def test_a_page_that_ends_the_list_has_no_cursor(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    await add_entries(runtime, *[entry(desk) for _ in range(4)])

    full = await api.get(logs_path(desk), params={"limit": 4})
    longer = await api.get(logs_path(desk), params={"limit": 3})

    assert full.json()["next_cursor"] is None
    assert longer.json()["next_cursor"] is not None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "not a cursor!",
    "%%%%",
    _b64("12"),
    _b64("before:twelve"),
    _b64("before:0"),
    _b64("before:-4"),
    _b64("before:99999999999999999999"),
]


async def test_a_cursor_not_given_out_is_refused_with_what_to_pass_instead(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)

    for cursor in BAD_CURSORS:
        response = await api.get(logs_path(desk), params={"cursor": cursor})

        assert response.status_code == 422, (cursor, response.text)
        problem = response.json()["fields"]["cursor"]
        assert "next_cursor of the previous page" in problem, cursor


async def test_a_cursor_from_one_page_leads_to_the_next(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    ids = await add_entries(runtime, *[entry(desk) for _ in range(5)])

    first = (await api.get(logs_path(desk), params={"limit": 2})).json()
    second = await api.get(
        logs_path(desk), params={"limit": 2, "cursor": first["next_cursor"]}
    )

    assert [item["id"] for item in second.json()["items"]] == ids[::-1][2:4]


BAD_VALUES = [
    ("success", "maybe", "true (successful calls only) or false"),
    ("method_id", "Get ticket", "as in method_id=12"),
    ("account_id", "0", "a whole number from 1 to 2147483647"),
    ("run_id", "-3", "a whole number from 1 to 2147483647"),
    ("workflow_id", "99999999999", "a whole number from 1 to 2147483647"),
    ("source", "cron", "one of test, workflow, api"),
    ("since", "yesterday", "such as 2025-03-01T09:30:00Z"),
    ("until", "2025-03-01T09:30:00", "with its time zone"),
    ("until", "0001-01-01T00:00:00+05:00", "with its time zone"),
    ("since", "2025-03-01T09:30:00 01:00", "write the + of an offset as %2B"),
    ("limit", "0", "from 1 to 200"),
    ("limit", "500", "from 1 to 200"),
]


async def test_a_bad_filter_value_is_refused_saying_what_to_write(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)

    for parameter, value, advice in BAD_VALUES:
        response = await api.get(logs_path(desk), params={parameter: value})

        assert response.status_code == 422, (parameter, value, response.text)
        body = response.json()
        assert advice in body["fields"][parameter], (parameter, value)
        assert body["message"].startswith(f"The request is not valid: {parameter} ")


async def test_every_bad_filter_is_named_at_once(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)

    response = await api.get(
        logs_path(desk), params={"success": "perhaps", "source": "cron", "limit": "x"}
    )

    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"success", "source", "limit"}


async def test_an_unknown_parameter_is_refused_not_ignored(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    await add_entries(runtime, entry(desk))

    response = await api.get(logs_path(desk), params={"method": "Get ticket"})

    assert response.status_code == 422, response.text
    problem = response.json()["fields"]["method"]
    assert "is not a parameter of this route" in problem
    assert "method_id" in problem


async def test_a_time_window_that_ends_before_it_starts_is_refused(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    now = utcnow()

    response = await api.get(
        logs_path(desk),
        params={
            "since": now.isoformat(),
            "until": (now - timedelta(hours=1)).isoformat(),
        },
    )

    assert response.status_code == 422
    assert "swap the two times" in response.json()["fields"]["until"]


async def test_an_entry_shows_every_column_with_headers_as_objects(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    desk = await make_desk(runtime)
    [entry_id] = await add_entries(
        runtime,
        entry(
            desk,
            method="Create ticket",
            success=False,
            source="workflow",
            workflow_id=3,
            run_id=40,
            step_key="open-ticket",
            request_method="POST",
            request_body='{"title": "Printer"}',
            request_body_size=20,
            response_body_size=70_000,
            response_body_truncated=True,
            attempts=3,
            token_refreshed=True,
        ),
    )

    response = await api.get(logs_path(desk, entry_id))

    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["request_headers"] == {
        "Accept": "application/json",
        "Authorization": "[redacted]",
    }
    assert shown["response_headers"] == {"Content-Type": "application/json"}
    assert shown["method_id"] == desk.methods["Create ticket"]
    assert shown["account_id"] == desk.accounts["Desk bot"]
    assert (shown["source"], shown["workflow_id"], shown["run_id"]) == (
        "workflow",
        3,
        40,
    )
    assert shown["step_key"] == "open-ticket"
    assert (shown["response_status"], shown["success"]) == (503, False)
    assert shown["error"] == "HTTP 503 from desk.test"
    assert shown["response_body_size"] == 70_000
    assert shown["response_body_truncated"] is True
    assert (shown["attempts"], shown["token_refreshed"]) == (3, True)
    # Every column but the insert sentinel, which only orders a batch insert.
    columns = {column.name for column in WebServiceLog.__table__.columns}
    assert set(shown) == columns - {"insert_sentinel"}


async def test_headers_that_are_not_a_json_object_show_as_none_and_are_logged(
    api: httpx2.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    desk = await make_desk(runtime)
    [entry_id] = await add_entries(
        runtime, entry(desk, response_headers="Content-Type: text/html")
    )

    with caplog.at_level(logging.WARNING, logger="authwire.calls.logs"):
        response = await api.get(logs_path(desk, entry_id))

    assert response.status_code == 200
    assert response.json()["response_headers"] == {}
    assert f"entry {entry_id}: response_headers is not a JSON object" in caplog.text


async def test_another_applications_entries_are_out_of_reach(
    api: httpx2.AsyncClient, runtime: Runtime
) -> None:
    ours = await make_desk(runtime, "IT Desk")
    theirs = await make_desk(runtime, "HR Desk")
    [our_entry] = await add_entries(runtime, entry(ours))
    [their_entry] = await add_entries(runtime, entry(theirs))

    assert await listed_ids(api, ours, {}) == [our_entry]
    # Their entry, asked for under our application, does not exist here.
    response = await api.get(logs_path(ours, their_entry))
    assert response.status_code == 404
    assert f"no web service log entry {their_entry}" in response.json()["message"]
    # Filtering by their method finds nothing of ours, and nothing of theirs.
    assert (
        await listed_ids(api, ours, {"method_id": theirs.methods["Get ticket"]}) == []
    )


async def test_an_admin_of_another_application_is_told_it_does_not_exist(
    client: httpx2.AsyncClient, runtime: Runtime
) -> None:
    ours = await make_desk(runtime, "IT Desk")
    theirs = await make_desk(runtime, "HR Desk")
    [our_entry] = await add_entries(runtime, entry(ours))
    async with runtime.sessions() as session:
        user = await create_user(session, "hr-admin", password=None, is_superuser=False)
        application = await session.get(Application, theirs.application_id)
        assert application is not None
        await grant_application(session, application, user)
        token = await create_api_token(session, user, "tests")
        await session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    listing = await client.get(logs_path(ours), headers=headers)
    one = await client.get(logs_path(ours, our_entry), headers=headers)
    own = await client.get(logs_path(theirs), headers=headers)

    assert (listing.status_code, one.status_code) == (404, 404)
    assert "that you administer" in listing.json()["message"]
    assert own.status_code == 200


@pytest.mark.parametrize("token", [None, "aw_not-a-real-token"])
async def test_the_log_routes_need_a_valid_token(
    client: httpx2.AsyncClient, runtime: Runtime, token: str | None
) -> None:
    desk = await make_desk(runtime)
    [entry_id] = await add_entries(runtime, entry(desk))
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    for path in (logs_path(desk), logs_path(desk, entry_id)):
        # Bad filters too: the token is checked first.
        response = await client.get(path, headers=headers, params={"limit": "0"})
        assert response.status_code == 401, (path, response.text)
        assert "API token" in response.json()["message"]


SQLITE_FILTERS = {
    "none": LogFilter(),
    "failed": LogFilter(success=False),
    "method and outcome": LogFilter(method_id=1, success=True),
    "account": LogFilter(account_id=1),
    "account and outcome": LogFilter(account_id=1, success=False),
    "run": LogFilter(run_id=4),
    "workflow": LogFilter(workflow_id=4),
    "source": LogFilter(source=LogSource.API),
}


async def test_sqlite_reads_each_filtered_page_off_an_index_without_sorting(
    runtime: Runtime,
) -> None:
    if not runtime.settings.is_sqlite:
        pytest.skip(
            "PostgreSQL plans follow table statistics; bench/log_query.py "
            "prints them at 1,000,000 entries"
        )
    desk = await make_desk(runtime)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    plans: dict[str, str] = {}
    async with runtime.sessions() as session:
        cases = [*SQLITE_FILTERS.items(), ("one method", LogFilter(method_id=1))]
        for name, log_filter in cases:
            for before_id in (None, 5000):
                await list_entries(
                    session, desk.application_id, log_filter, before_id=before_id
                )
                connection = await session.connection()
                rows = await connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statements[-1],
                    (1,) * statements[-1].count("?"),
                )
                plans[f"{name}, before {before_id}"] = " / ".join(
                    str(row[-1]) for row in rows
                )

    for case, plan in plans.items():
        assert "USING INDEX ix_web_service_logs_" in plan, (case, plan)
        assert "SCAN web_service_logs" not in plan, (case, plan)
        if not case.startswith("one method"):
            assert "TEMP B-TREE" not in plan, (case, plan)
    # One method, either outcome: both runs of its index, each read in order;
    # only the rows they yield are merged.
    for case in ("one method, before None", "one method, before 5000"):
        assert plans[case].count("USING INDEX ix_web_service_logs_app_method") == 2
