"""A web service for the call path's tests, on 127.0.0.1: it echoes what it
gets and misbehaves on demand (slow, huge, failing, closing the connection).

Loaded as a pytest plugin by tests/conftest.py, for the session-scoped
`upstream` fixture.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route


@dataclass
class Upstream:
    base_url: str
    closing_url: str
    hits: Counter[str] = field(default_factory=Counter)


def _app(state: Upstream) -> Starlette:
    async def echo(request: Request) -> Response:
        state.hits[request.url.path] += 1
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": body.decode(errors="replace"),
            }
        )

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("seconds", "2")))
        return PlainTextResponse("finally")

    async def huge(request: Request) -> Response:
        size = int(request.query_params["bytes"])

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            while sent < size:
                piece = min(65536, size - sent)
                sent += piece
                yield b"x" * piece

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        return PlainTextResponse(f"status {code}", status_code=code, headers=headers)

    async def flaky(request: Request) -> Response:
        """Fails `fail` times per key with `status`, then answers 200."""
        key = request.path_params["key"]
        state.hits[f"flaky:{key}"] += 1
        if state.hits[f"flaky:{key}"] <= int(request.query_params.get("fail", "1")):
            headers = {}
            if "retry_after" in request.query_params:
                headers["Retry-After"] = request.query_params["retry_after"]
            code = int(request.query_params.get("status", "503"))
            return PlainTextResponse("try later", status_code=code, headers=headers)
        return JSONResponse({"ok": True, "attempt": state.hits[f"flaky:{key}"]})

    async def text(request: Request) -> Response:
        return PlainTextResponse("plain words, not JSON")

    return Starlette(
        routes=[
            Route(
                "/echo/{rest:path}",
                echo,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
            Route("/slow", slow),
            Route("/huge", huge),
            Route("/status/{code:int}", status, methods=["GET", "POST"]),
            Route("/flaky/{key}", flaky, methods=["GET", "POST"]),
            Route("/text", text),
        ]
    )


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _closing_server(stop: threading.Event) -> tuple[int, threading.Thread]:
    """Accepts connections and closes them without a word."""
    server = _free_socket()
    server.listen(16)
    server.settimeout(0.2)

    def run() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            connection.close()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    sock = _free_socket()
    port = sock.getsockname()[1]
    stop = threading.Event()
    closing_port, closing_thread = _closing_server(stop)
    state = Upstream(
        base_url=f"http://127.0.0.1:{port}",
        closing_url=f"http://127.0.0.1:{closing_port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            _app(state), log_level="warning", access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    for _ in range(100):
        if server.started:
            break
        threading.Event().wait(0.05)
    try:
        yield state
    finally:
        server.should_exit = True
        stop.set()
        thread.join(timeout=10)
        closing_thread.join(timeout=5)
