"""A loopback web service for bench/call_overhead.py, run in its own process.

It answers every GET that carries the expected bearer token with a small JSON
body, and every other request with 401. It is a bare asyncio protocol rather
than a framework app because the benchmark measures the client side: the
faster the server answers, the less it hides differences between clients. It
runs in a process of its own so that its work shares neither the event loop
nor the GIL with the clients being measured.

    python bench/_upstream.py    (token in BENCH_UPSTREAM_TOKEN)

It binds a free port on 127.0.0.1, writes `port <n>` on stdout, and stops when
its stdin closes, so it cannot outlive the benchmark that started it. A GET of
/_stats answers its counters and its CPU time, unauthenticated: the benchmark
uses them to check that every call arrived and that the server kept up.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time

TOKEN_ENV = "BENCH_UPSTREAM_TOKEN"
STATS_PATH = b"/_stats"
MAX_HEAD = 65536  # bytes of request line and headers; anything longer is refused

BODY = b'{"id":1,"status":"open","title":"Printer on floor 3"}'
OK = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n" % len(BODY)
) + BODY
UNAUTHORIZED = (
    b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\n"
    b"content-length: 0\r\n\r\n"
)
BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
)


class Counters:
    def __init__(self) -> None:
        self.ok = 0
        self.unauthorized = 0
        self.connections = 0


class Responder(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, for requests without a body (GETs)."""

    def __init__(self, expected: bytes, counters: Counters) -> None:
        self._expected = expected
        self._counters = counters
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._counters.connections += 1

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    self._refuse()
                return
            head = self._buffer[:end]
            self._buffer = self._buffer[end + 4 :]
            answer = self._answer(head)
            if answer is None:
                self._refuse()
                return
            self._transport.write(answer)

    def _answer(self, head: bytes) -> bytes | None:
        """The response to one request, or None for one it cannot serve."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[0] != b"GET":
            return None
        if parts[1] == STATS_PATH:
            return self._stats()
        authorization = b""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"authorization":
                authorization = value.strip()
            elif name == b"content-length" and value.strip() != b"0":
                return None  # its body would be read as the next request
        if authorization != self._expected:
            self._counters.unauthorized += 1
            return UNAUTHORIZED
        self._counters.ok += 1
        return OK

    def _stats(self) -> bytes:
        body = json.dumps(
            {
                "ok": self._counters.ok,
                "unauthorized": self._counters.unauthorized,
                "connections": self._counters.connections,
                "cpu_seconds": time.process_time(),
            }
        ).encode()
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        ) + body

    def _refuse(self) -> None:
        assert self._transport is not None
        self._transport.write(BAD_REQUEST)
        self._transport.close()
        self._buffer = b""


def _stop_when_stdin_closes(
    loop: asyncio.AbstractEventLoop, done: asyncio.Event
) -> None:
    def wait() -> None:
        sys.stdin.buffer.read()  # returns at end of file: the parent is gone
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=wait, daemon=True, name="stdin-watch").start()


async def serve(token: str) -> None:
    loop = asyncio.get_running_loop()
    counters = Counters()
    expected = b"Bearer " + token.encode()
    server = await loop.create_server(
        lambda: Responder(expected, counters), host="127.0.0.1", port=0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    done = asyncio.Event()
    _stop_when_stdin_closes(loop, done)
    async with server:
        await done.wait()


def main() -> None:
    token = os.environ.get(TOKEN_ENV)
    if not token:
        sys.exit(f"{TOKEN_ENV} must hold the bearer token to accept.")
    asyncio.run(serve(token))


if __name__ == "__main__":
    main()
