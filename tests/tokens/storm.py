"""A refresh storm: many callers, in one or several processes, ask for the
access token of one expired account at the same instant.

The test of the keeper across processes asserts on it and
`bench/refresh_storm.py` measures it; both use this module so that what is
proved and what is timed are the same storm. Its parts are real: a token
endpoint served by uvicorn on 127.0.0.1, the account in the database under
test, and worker processes (`tests.tokens.storm_worker`) configured like
server processes, sharing nothing but that database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authwire.accounts.kinds import AccountKind
from authwire.accounts.schemas import AuthAccountCreate
from authwire.accounts.service import create_account
from authwire.applications import ApplicationCreate, create_application
from authwire.db.types import utcnow
from authwire.runtime import Runtime
from authwire.users import create_user
from tests.helpers import give_tokens
from tests.tokens.storm_worker import WorkerReport, digest

# The repository root: workers run `python -m tests.tokens.storm_worker` here.
ROOT = Path(__file__).resolve().parents[2]

SERVER_START_TIMEOUT = 10.0
LATE_START_ATTEMPTS = 3


class StormError(RuntimeError):
    """A storm could not be run (a worker crashed, hung or said nothing), as
    opposed to a storm that ran and gave a wrong answer."""


class DelayedTokenEndpoint:
    """A token endpoint that renews any refresh token after a fixed delay and
    counts the requests it receives, by grant type.

    The delay holds the one refresh in flight long enough for every caller in
    every process to pile up behind it; the count is the figure under test.
    Each answer carries new random tokens (the refresh token rotated), so a
    second refresh would hand some callers a different access token.

    `warm_up_url` answers the same way but is not counted: workers refresh an
    account of their own there before the storm, so that the storm is timed
    in a process that has run the refresh path once already, as a server
    that has been up for a while has.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.url = ""
        self.warm_up_url = ""
        # Requests are counted on uvicorn's thread and read on the caller's.
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._issued: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/warm-up/token", self._warm_up_token, methods=["POST"]),
            ]
        )

    @property
    def requests(self) -> dict[str, int]:
        """Requests received since the last reset, by grant type."""
        with self._lock:
            return dict(self._requests)

    @property
    def issued(self) -> list[str]:
        """SHA-256 digests of the access tokens issued since the last reset."""
        with self._lock:
            return list(self._issued)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._issued.clear()

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        grant_type = str(form.get("grant_type", ""))
        with self._lock:
            self._requests[grant_type] += 1
        if grant_type != "refresh_token" or not form.get("refresh_token"):
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

        await asyncio.sleep(self.delay)
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._issued.append(digest(access_token))
        return self._answer(access_token)

    async def _warm_up_token(self, request: Request) -> JSONResponse:
        await request.form()
        await asyncio.sleep(self.delay)
        return self._answer(secrets.token_urlsafe(32))

    @staticmethod
    def _answer(access_token: str) -> JSONResponse:
        return JSONResponse(
            {
                "access_token": access_token,
                "refresh_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": 3600,
            },
            headers={"Cache-Control": "no-store"},
        )


@contextmanager
def running_token_endpoint(delay: float) -> Iterator[DelayedTokenEndpoint]:
    """Serve a `DelayedTokenEndpoint` on 127.0.0.1 from a background thread,
    and stop it on the way out, whatever happened inside."""
    endpoint = DelayedTokenEndpoint(delay)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    config = uvicorn.Config(
        endpoint.app,
        lifespan="off",
        # The access log would show request lines; keep the output to figures.
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [listener]},
        name="storm-token-endpoint",
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise StormError(
                    "The local token endpoint did not start within "
                    f"{SERVER_START_TIMEOUT:g} seconds; see uvicorn's log above."
                )
            time.sleep(0.01)
        origin = f"http://127.0.0.1:{listener.getsockname()[1]}"
        endpoint.url = f"{origin}/token"
        endpoint.warm_up_url = f"{origin}/warm-up/token"
        yield endpoint
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT)
        listener.close()


async def expired_account(runtime: Runtime, token_endpoint: str) -> int:
    """Create an authorized generic OAuth account whose access token expired
    an hour ago and whose token endpoint is `token_endpoint`; its id.

    Each call makes its own user and application, so that storms can share a
    database without clashing over names.
    """
    label = uuid.uuid4().hex[:10]
    async with runtime.sessions() as session:
        user = await create_user(
            session, f"storm-{label}", password=None, is_superuser=True
        )
        application = await create_application(
            session, user, ApplicationCreate(name=f"Refresh storm {label}")
        )
        account = await create_account(
            session,
            runtime.keyring,
            runtime.settings,
            application.id,
            AuthAccountCreate(
                name="Storm account",
                kind=AccountKind.OAUTH2_GENERIC,
                client_id="storm-client",
                client_secret="storm-client-secret-value",
                authorization_endpoint=token_endpoint.replace("/token", "/authorize"),
                token_endpoint=token_endpoint,
                scope="read",
            ),
        )
        await session.commit()
        account_id = account.id
    await give_tokens(runtime, account_id, expires_at=utcnow() - timedelta(hours=1))
    return account_id


def split(total: int, parts: int) -> list[int]:
    """`total` callers shared out as evenly as possible over `parts` workers."""
    return [
        total // parts + (1 if index < total % parts else 0) for index in range(parts)
    ]


@dataclass(frozen=True)
class Storm:
    """The reports of all workers of one storm, and the instant it began."""

    start_at: float
    reports: list[WorkerReport]

    @property
    def callers(self) -> int:
        return sum(report.callers for report in self.reports)

    @property
    def tokens(self) -> dict[str, int]:
        """Digest of each distinct access token handed out -> callers, over
        all workers."""
        total: Counter[str] = Counter()
        for report in self.reports:
            total.update(report.tokens)
        return dict(total)

    @property
    def errors(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for report in self.reports:
            total.update(report.errors)
        return dict(total)

    @property
    def last_served(self) -> float:
        """Seconds from the common start to the last caller of all workers."""
        return max(report.finished_at for report in self.reports) - self.start_at

    @property
    def latest_start(self) -> float:
        """How many seconds after the start instant the slowest worker was
        ready (0 when all were ready in time): a late worker did not take
        part in the storm from its beginning, so its timing says little."""
        return max(0.0, -min(report.slack for report in self.reports))


async def storm_on_fresh_account(
    runtime: Runtime,
    endpoint: DelayedTokenEndpoint,
    *,
    callers: Sequence[int],
    start_in: float,
    serve_within: float = 30.0,
    warm_up: bool = False,
    profile_dir: Path | None = None,
) -> tuple[int, Storm]:
    """A storm (see `run_storm`) on a new expired account of `runtime`'s
    database, its workers configured with `runtime`'s key, counted by
    `endpoint` from zero; the account's id and the storm.

    A worker still starting up at the start instant misses the beginning of
    the storm, so such a storm proves and measures little. On a busy machine
    that can happen; the storm is then run again on another fresh account
    with twice the start-up allowance, up to `LATE_START_ATTEMPTS` times in
    all. The last storm is returned either way (see `Storm.latest_start`).
    """
    if runtime.settings.secret_keys is None:
        raise ValueError("The workers need the runtime's key: set secret_keys.")
    secret_key = runtime.settings.secret_keys.get_secret_value()
    for attempt in range(LATE_START_ATTEMPTS):
        account_id = await expired_account(runtime, endpoint.url)
        warm_up_accounts = [
            await expired_account(runtime, endpoint.warm_up_url)
            for _ in (callers if warm_up else ())
        ]
        endpoint.reset()
        storm = await asyncio.to_thread(
            run_storm,
            database_url=runtime.settings.effective_database_url,
            secret_key=secret_key,
            account_id=account_id,
            callers=callers,
            start_in=start_in * 2**attempt,
            serve_within=serve_within,
            warm_up_accounts=warm_up_accounts,
            profile_dir=profile_dir,
        )
        if storm.latest_start == 0:
            break
    return account_id, storm


def run_storm(
    *,
    database_url: str,
    secret_key: str,
    account_id: int,
    callers: Sequence[int],
    start_in: float,
    serve_within: float = 30.0,
    warm_up_accounts: Sequence[int] = (),
    profile_dir: Path | None = None,
) -> Storm:
    """Start one worker per entry of `callers` (how many callers it runs), let
    them all begin `start_in` seconds from now, and collect their reports.

    With `warm_up_accounts` (one per worker, expired, on the endpoint's
    `warm_up_url`), each worker first refreshes its own, so that first-use
    costs (lazy imports, SQL compilation) stay out of the storm's timing.

    `start_in` must cover a worker's start-up (imports, schema check, first
    connection), so that all of them are waiting when the instant comes.
    A worker gives up on callers not served `serve_within` seconds after the
    start. Workers are always stopped before this returns; `StormError` says
    why a storm could not be completed.
    """
    start_at = time.time() + start_in
    with tempfile.TemporaryDirectory(prefix="authwire-storm-") as scratch:
        env = {
            **os.environ,
            "AUTHWIRE_DATABASE_URL": database_url,
            "AUTHWIRE_SECRET_KEYS": secret_key,
            "AUTHWIRE_AUTO_MIGRATE": "false",
            "AUTHWIRE_DATA_DIR": scratch,
        }
        workers: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
        try:
            for index, count in enumerate(callers):
                command = [
                    sys.executable,
                    "-m",
                    "tests.tokens.storm_worker",
                    f"--account-id={account_id}",
                    f"--callers={count}",
                    f"--start-at={start_at!r}",
                    f"--timeout={serve_within!r}",
                ]
                if warm_up_accounts:
                    command.append(f"--warm-up-account-id={warm_up_accounts[index]}")
                if profile_dir is not None:
                    command.append(f"--profile={profile_dir / f'worker-{index}.prof'}")
                out = Path(scratch, f"worker-{index}.out")
                err = Path(scratch, f"worker-{index}.err")
                # Files, not pipes: a chatty worker cannot block on a full pipe.
                with out.open("wb") as stdout, err.open("wb") as stderr:
                    process = subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr
                    )
                workers.append((process, out, err))
            _wait_for(workers, deadline=time.monotonic() + start_in + serve_within + 10)
            return Storm(start_at, [_report_of(*worker) for worker in workers])
        finally:
            for process, _, _ in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)


def _wait_for(
    workers: Sequence[tuple[subprocess.Popen[bytes], Path, Path]], *, deadline: float
) -> None:
    for process, _, err in workers:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired as exc:
            raise StormError(
                f"Storm worker {process.pid} was still running at its deadline "
                f"and has been stopped. Its error output:\n{_tail(err)}"
            ) from exc


def _report_of(process: subprocess.Popen[bytes], out: Path, err: Path) -> WorkerReport:
    lines = out.read_text().splitlines()
    if process.returncode != 0 or not lines:
        raise StormError(
            f"Storm worker {process.pid} exited with status {process.returncode} "
            f"and no report. Its error output:\n{_tail(err)}"
        )
    return WorkerReport.from_json(lines[-1])


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
