"""The sockets under the call path's HTTP client.

Before it hands out a connection, and again when one is given back, the
connection pool of httpcore2 (under httpx2) asks every idle connection
whether the server has closed it: is its socket readable? With the anyio
backend each question rebuilds the stream's whole table of attributes to
find the raw socket, so with dozens of idle keep-alive connections a call
spends more CPU on those questions than on its own request
(`bench/call_overhead.py`: at 64 calls at once, a third of the call path's
time). The streams here keep the raw socket from the start and answer the
question with one `poll`; everything else passes through unchanged.

The pool's backend has no public setting in httpx2, so `install` sets it on
the client's pools after they are built. Should a release of httpx2 or
httpcore2 rename what it looks for, `install` changes nothing and says so at
start-up; calls then work as before, only slower.
"""

# The `timeout` parameters are httpcore2's interface, not ours to change.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend

log = logging.getLogger(__name__)


def socket_has_input(sock: socket.socket | None) -> bool:
    """Whether a read would return at once: data, or the end of the stream
    that a server which closed the connection leaves. A socket that is gone
    counts as readable, so that its connection is dropped."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore2.AsyncNetworkStream):
    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _Stream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return socket_has_input(self._socket)
        return self._inner.get_extra_info(info)


class SocketKeepingBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's own backend, with streams that keep their raw socket."""

    def __init__(self) -> None:
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        return _Stream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _Stream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(client: httpx2.AsyncClient) -> int:
    """Give the connection pools of `client` (its own and those of proxies
    from the environment) a `SocketKeepingBackend`; returns how many got one.
    Transports that are not network pools (a test's mock) are left alone."""
    transports = [
        getattr(client, "_transport", None),
        *getattr(client, "_mounts", {}).values(),
    ]
    installed = 0
    for transport in transports:
        if not isinstance(transport, httpx2.AsyncHTTPTransport):
            continue
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore2.AsyncConnectionPool) and isinstance(
            getattr(pool, "_network_backend", None), AutoBackend
        ):
            pool._network_backend = SocketKeepingBackend()
            installed += 1
        else:
            log.warning(
                "the HTTP client's connection pool is not laid out as this "
                "version of Authwire expects; calls work, with more CPU per call"
            )
    return installed
