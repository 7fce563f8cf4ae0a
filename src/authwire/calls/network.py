"""The sockets under the call path's HTTP client.

Two things are done where a connection is opened, beneath httpx2:

- The egress guard (`calls.egress`) resolves the host and checks every
  address, and the connection is made to one of those checked addresses, so
  that a DNS answer that changed since the call path's own check cannot lead
  to a refused address. Names are resolved once per new connection, not once
  per call. The TLS handshake still names the host (SNI, certificate check).
- Streams keep their raw socket. Before it hands out a connection, and again
  when one is given back, httpcore2's pool asks every idle connection whether
  the server has closed it: is its socket readable? Through the anyio
  backend each question rebuilds the stream's whole table of attributes to
  find the socket, so with dozens of idle keep-alive connections a call
  spent more CPU on those questions than on its own request
  (`bench/call_overhead.py`: 976 calls per second before, 1,386 after). Here
  the question is one `poll`.

The pool's backend has no public setting in httpx2, so `install` sets it on
the client's pools after they are built. Should a release of httpx2 or
httpcore2 rename what it looks for, `install` changes nothing and says so at
start-up; calls then work as before, slower, and the call path resolves
names for its egress check itself.
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

import anyio
import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend

from authwire.calls.egress import EgressGuard

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


class CallBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's own backend, connecting only to addresses that `guard`
    allows (any, without one), with streams that keep their raw socket."""

    def __init__(self, guard: EgressGuard | None) -> None:
        self._inner = AutoBackend()
        self._guard = guard

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = (
            [host]
            if self._guard is None
            else await _checked_addresses(self._guard, host, port, timeout)
        )
        failure: Exception = httpcore2.ConnectError(f"{host} has no address")
        for address in addresses:  # in the resolver's order, as a client would
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
                continue
            return _Stream(stream)
        raise failure

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


async def _checked_addresses(
    guard: EgressGuard, host: str, port: int, timeout: float | None
) -> list[str]:
    """The addresses of `host`, each allowed by `guard`; a failure to
    resolve is reported as httpcore2 reports a failed connect."""
    try:
        with anyio.fail_after(timeout):
            return await guard.resolve(host, port)
    except TimeoutError as exc:
        raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from exc
    except OSError as exc:
        raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc


def install(client: httpx2.AsyncClient, guard: EgressGuard) -> bool:
    """Give the connection pools of `client` a `CallBackend`: its own pool
    one with `guard`; the pools of proxies from the environment one without
    (a proxy's address is not the web service's, and the proxy resolves the
    web service's name itself). Returns whether every connection the client
    opens is checked by `guard`: false with a proxy, and for a client on a
    transport that is not a network pool (a test's mock)."""
    guarded = _fit(getattr(client, "_transport", None), guard)
    proxies = [t for t in getattr(client, "_mounts", {}).values() if t is not None]
    for proxy in proxies:
        _fit(proxy, None)
    return guarded and not proxies


def _fit(transport: object, guard: EgressGuard | None) -> bool:
    if not isinstance(transport, httpx2.AsyncHTTPTransport):
        return False
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore2.AsyncConnectionPool) and isinstance(
        getattr(pool, "_network_backend", None), AutoBackend
    ):
        pool._network_backend = CallBackend(guard)
        return True
    log.warning(
        "the HTTP client's connection pool is not laid out as this version of "
        "Authwire expects; calls work, with more CPU per call, and egress is "
        "checked before each call rather than at each connection"
    )
    return False
