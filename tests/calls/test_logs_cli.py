"""`authwire logs search` and `authwire logs tail`, run as an operator runs
them: a real process on the test's database."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

import anyio
import pytest
from anyio.abc import ByteReceiveStream
from anyio.streams.text import TextReceiveStream

from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.settings import Settings
from tests.calls.test_logs import Desk, add_entries, entry, make_desk

AUTHWIRE_LOGS = [sys.executable, "-m", "authwire", "logs"]


def environment(settings: Settings) -> dict[str, str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUTHWIRE_")
    }
    assert settings.database_url is not None and settings.secret_keys is not None
    return {
        **clean,
        "AUTHWIRE_DATA_DIR": str(settings.data_dir),
        "AUTHWIRE_DATABASE_URL": settings.database_url,
        "AUTHWIRE_SECRET_KEYS": settings.secret_keys.get_secret_value(),
    }


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def logs(settings: Settings, *args: str) -> Finished:
    with anyio.fail_after(60):
        process = await anyio.run_process(
            [*AUTHWIRE_LOGS, *args],
            env=environment(settings),
            check=False,
        )
    return Finished(
        process.returncode, process.stdout.decode(), process.stderr.decode()
    )


@pytest.fixture
async def desk(runtime: Runtime) -> Desk:
    return await make_desk(runtime)


async def test_search_prints_each_matching_entry_on_one_line_newest_first(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    ids = await add_entries(
        runtime,
        entry(desk, method="Get ticket", success=False),
        entry(desk, method="Create ticket", success=False),
        entry(desk, method="Create ticket"),
        entry(
            desk,
            method="Create ticket",
            success=False,
            response_status=None,
            error="The call timed out\nafter 30 s.",
            duration_ms=30012.4,
        ),
    )

    result = await logs(
        settings, "search", "IT Desk", "--method", "Create ticket", "--failed"
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines] == [f"#{ids[3]}", f"#{ids[1]}"]
    timed_out, refused = lines
    assert "Create ticket" in timed_out and "Get ticket" not in result.stdout
    assert "---  FAILED" in timed_out
    assert "30012 ms  The call timed out after 30 s." in timed_out
    assert refused.endswith("503  FAILED       42 ms  HTTP 503 from desk.test")


async def test_search_by_ids_prints_whole_entries_as_json_lines(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    ids = await add_entries(
        runtime,
        entry(desk, account="Reporter"),
        entry(desk, account="Desk bot"),
        entry(desk, account="Reporter", success=False),
    )

    result = await logs(
        settings,
        "search",
        str(desk.application_id),
        "--account",
        str(desk.accounts["Reporter"]),
        "--success",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    [printed] = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed["id"] == ids[0]
    assert printed["account_name"] == "Reporter"
    assert printed["request_headers"]["Authorization"] == "[redacted]"


async def test_search_walks_pages_up_to_the_limit(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    ids = await add_entries(runtime, *[entry(desk) for _ in range(230)])

    result = await logs(settings, "search", "IT Desk", "--limit", "215")

    assert result.returncode == 0, result.stderr
    printed = [int(line.split()[2][1:]) for line in result.stdout.splitlines()]
    assert printed == ids[::-1][:215]


async def test_search_within_a_time_window_given_as_ages(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    now = utcnow()
    ids = await add_entries(
        runtime,
        entry(desk, created_at=now - timedelta(hours=5)),
        entry(desk, created_at=now - timedelta(hours=2)),
        entry(desk, created_at=now - timedelta(minutes=5)),
    )

    result = await logs(
        settings, "search", "IT Desk", "--since", "3h", "--until", "30m"
    )

    assert result.returncode == 0, result.stderr
    assert [line.split()[2] for line in result.stdout.splitlines()] == [f"#{ids[1]}"]


async def test_search_with_no_match_says_so_apart_from_the_output(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    await add_entries(runtime, entry(desk))

    result = await logs(settings, "search", "IT Desk", "--failed")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "no web service log entry matches" in result.stderr


async def test_search_refuses_what_it_cannot_resolve_saying_what_to_write(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    unknown_method = await logs(
        settings, "search", "IT Desk", "--method", "Close ticket"
    )
    bad_time = await logs(settings, "search", "IT Desk", "--since", "last tuesday")
    bad_source = await logs(settings, "search", "IT Desk", "--source", "cron")

    assert unknown_method.returncode == 1
    assert "'Close ticket'" in unknown_method.stderr
    assert "'Create ticket', 'Get ticket'" in unknown_method.stderr
    assert bad_time.returncode == 1
    assert "such as 30m, 2h or 7d" in bad_time.stderr
    assert bad_source.returncode == 1
    assert "one of test, workflow, api" in bad_source.stderr


class Lines:
    """A process's output, line by line."""

    def __init__(self, stream: ByteReceiveStream) -> None:
        self._text = TextReceiveStream(stream)
        self._buffer = ""

    async def next(self) -> str:
        with anyio.fail_after(20):
            while "\n" not in self._buffer:
                self._buffer += await self._text.receive()
        line, self._buffer = self._buffer.split("\n", 1)
        return line

    async def rest(self) -> str:
        """What is left once the process has ended."""
        async for text in self._text:
            self._buffer += text
        return self._buffer


async def test_tail_prints_new_matching_entries_as_they_arrive_until_ctrl_c(
    runtime: Runtime, settings: Settings, desk: Desk
) -> None:
    _, newest = await add_entries(
        runtime, entry(desk, success=False), entry(desk, success=False)
    )
    command = [*AUTHWIRE_LOGS, "tail", "IT Desk", "--failed"]
    options = ["--lines", "1", "--interval", "0.2"]

    async with await anyio.open_process(
        [*command, *options], env=environment(settings)
    ) as follower:
        assert follower.stdout is not None and follower.stderr is not None
        lines = Lines(follower.stdout)
        # The newest failure only (--lines 1), then what arrives.
        assert f"#{newest} " in await lines.next()
        [_, arrived] = await add_entries(
            runtime, entry(desk), entry(desk, method="Create ticket", success=False)
        )
        shown = await lines.next()
        assert f"#{arrived} " in shown and "Create ticket" in shown

        follower.send_signal(signal.SIGINT)
        with anyio.fail_after(20):
            assert await follower.wait() == 0
        assert await lines.rest() == ""
        assert "Traceback" not in await Lines(follower.stderr).rest()
