"""Which hosts methods may call.

A method's URL comes from an admin's template and the call's parameters, so
it could be made to point at the cloud metadata service, which hands out the
server's own credentials. Those addresses are refused by default, and an
operator can refuse more hosts and networks (AUTHWIRE_EGRESS_DENY).

The check is made twice. Before anything is sent, the call path refuses a
denied name or address literal with a plain message (`check_name`). Then,
when the HTTP client opens a connection, `calls.network` resolves the name
through `resolve`, which checks every address, and connects to those very
addresses: a DNS answer that changes between a check and the connection
(rebinding) cannot slip a refused address through. Where that connect-time
check is not in place, `check` resolves the name before the call instead,
which leaves that window open: behind a proxy from the environment (the
proxy resolves the name), or with a client whose pool `calls.network` could
not fit (the start-up log says so).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import anyio

from authwire.errors import AuthwireError

METADATA_NETWORKS = (
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_network("169.254.170.2/32"),  # AWS ECS task credentials
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefusedError(AuthwireError):
    code = "egress_refused"
    status_code = 403


@dataclass(frozen=True)
class EgressGuard:
    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def from_settings(cls, deny: str, *, allow_metadata: bool) -> EgressGuard:
        hosts: set[str] = set()
        networks: list[Network] = []
        for item in (part.strip() for part in deny.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        if not allow_metadata:
            hosts |= METADATA_HOSTS
            networks += METADATA_NETWORKS
        return cls(frozenset(hosts), tuple(networks))

    def _refused_address(self, address: str) -> Network | None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        for network in self.networks:
            if ip.version == network.version and ip in network:
                return network
        return None

    def check_name(self, host: str) -> None:
        """Refuse a denied name, or an address literal in a denied network,
        without asking DNS."""
        name = _normal(host)
        if name in self.hosts:
            raise EgressRefusedError(
                f"Calls to {host} are refused by this installation "
                "(AUTHWIRE_EGRESS_DENY, or a cloud metadata host)."
            )
        literal = _literal(name)
        if literal is not None:
            self._check_addresses(host, [literal])

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, every one of them allowed, in the
        resolver's order. Raises `EgressRefusedError` if any is refused, and
        `OSError` when the name does not resolve."""
        self.check_name(host)
        name = _normal(host)
        literal = _literal(name)
        if literal is not None:
            return [literal]
        infos = await anyio.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._check_addresses(host, addresses)
        return addresses

    async def check(self, host: str, port: int, *, resolve: bool = True) -> None:
        """Refuse a call to `host` before it is made; with `resolve`, by the
        addresses the name has now as well (a name that does not resolve is
        left for the HTTP client to report)."""
        if not resolve:
            self.check_name(host)
            return
        try:
            await self.resolve(host, port)
        except OSError:
            return

    def _check_addresses(self, host: str, addresses: list[str]) -> None:
        for address in addresses:
            network = self._refused_address(address)
            if network is not None:
                raise EgressRefusedError(
                    f"Calls to {host} are refused: it resolves to an address in "
                    f"{network}, which this installation does not let methods "
                    "reach (cloud metadata, or AUTHWIRE_EGRESS_DENY)."
                )


def _normal(host: str) -> str:
    return host.lower().rstrip(".")


def _literal(name: str) -> str | None:
    """The address, if `name` is an address literal (IPv6 in brackets too)."""
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return None
