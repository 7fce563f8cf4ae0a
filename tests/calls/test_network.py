"""The call path's sockets: connections only to addresses the egress guard
allows, idle connections that the server closed noticed cheaply, and
everything else as httpcore2's own backend does it."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import httpx2
import pytest

from authwire.calls.egress import EgressGuard, EgressRefusedError
from authwire.calls.network import CallBackend, install, socket_has_input

OPEN = EgressGuard.from_settings("", allow_metadata=False)


def test_a_quiet_socket_has_no_input_and_data_or_a_close_is_input() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert socket_has_input(ours) is False
        theirs.sendall(b"x")
        assert socket_has_input(ours) is True
        ours.recv(1)
        theirs.close()
        assert socket_has_input(ours) is True  # the end of the stream


def test_a_socket_that_is_gone_counts_as_readable() -> None:
    sock = socket.socket()
    sock.close()
    assert socket_has_input(sock) is True
    assert socket_has_input(None) is True


async def test_a_client_gets_the_backend_in_its_pool() -> None:
    async with httpx2.AsyncClient() as client:
        assert install(client, OPEN) is True
        assert isinstance(
            client._transport._pool._network_backend,  # type: ignore[attr-defined]
            CallBackend,
        )


async def test_a_client_on_a_mock_transport_is_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock = httpx2.MockTransport(lambda request: httpx2.Response(204))
    async with httpx2.AsyncClient(transport=mock) as client:
        with caplog.at_level(logging.WARNING):
            assert install(client, OPEN) is False
        assert (await client.get("http://service.test/")).status_code == 204
    assert caplog.records == []


class ClosingServer:
    """HTTP/1.1 on loopback that answers each request with keep-alive, then
    closes the connection `close_after` seconds later, as servers do with
    idle connections; counts the connections it accepted."""

    def __init__(self, close_after: float) -> None:
        self.close_after = close_after
        self.connections = 0

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            while True:
                async with asyncio.timeout(self.close_after):
                    await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    b"Connection: keep-alive\r\n\r\nok"
                )
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def closing_server() -> AsyncIterator[tuple[ClosingServer, str]]:
    server = ClosingServer(close_after=0.05)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server, f"http://127.0.0.1:{port}/"


async def test_an_idle_connection_the_server_closed_is_replaced(
    closing_server: tuple[ClosingServer, str],
) -> None:
    server, url = closing_server
    async with httpx2.AsyncClient() as client:
        assert install(client, OPEN) is True
        assert (await client.get(url)).text == "ok"
        await asyncio.sleep(0.2)  # the server has closed the idle connection
        assert (await client.get(url)).text == "ok"
    assert server.connections == 2


async def test_a_kept_alive_connection_is_reused(
    closing_server: tuple[ClosingServer, str],
) -> None:
    server, url = closing_server
    server.close_after = 5
    async with httpx2.AsyncClient() as client:
        install(client, OPEN)
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    assert server.connections == 1


async def test_a_name_that_resolves_to_a_refused_network_is_not_connected(
    closing_server: tuple[ClosingServer, str],
) -> None:
    server, url = closing_server
    loopback_denied = EgressGuard.from_settings("127.0.0.0/8", allow_metadata=False)
    async with httpx2.AsyncClient() as client:
        install(client, loopback_denied)
        by_name = url.replace("127.0.0.1", "localhost")
        with pytest.raises(EgressRefusedError, match="127.0.0.0/8"):
            await client.get(by_name)
    assert server.connections == 0


class RebindingGuard(EgressGuard):
    """Resolves every name to a dead loopback address first, then to the
    real one, as a name with two addresses of which one is down."""

    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]


async def test_the_next_checked_address_is_tried_when_one_refuses(
    closing_server: tuple[ClosingServer, str],
) -> None:
    server, url = closing_server
    async with httpx2.AsyncClient() as client:
        install(client, RebindingGuard(frozenset(), ()))
        response = await client.get(url.replace("127.0.0.1", "service.test"))
        assert response.text == "ok"
    assert server.connections == 1


class UnknownNameGuard(EgressGuard):
    """Answers as the resolver does for a name that does not exist (asking
    no DNS server: the tests reach loopback only)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    async with httpx2.AsyncClient() as client:
        install(client, UnknownNameGuard(frozenset(), ()))
        with pytest.raises(httpx2.ConnectError, match="cannot resolve"):
            await client.get("http://no-such-host.test/")


async def test_a_proxy_from_the_environment_leaves_egress_to_the_call_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    async with httpx2.AsyncClient() as client:
        assert install(client, OPEN) is False
        proxies = [t for t in client._mounts.values() if t is not None]  # noqa: SLF001
        assert proxies
        backend = proxies[0]._pool._network_backend  # type: ignore[attr-defined]
        assert isinstance(backend, CallBackend)
