"""Which hosts methods may call.

A method's URL comes from an admin's template and the call's parameters, so
it could be made to point at the cloud metadata service, which hands out the
server's own credentials. Those addresses are refused by default, and an
operator can refuse more hosts and networks (AUTHWIRE_EGRESS_DENY).

The host is resolved and every address checked, so that a name that points
at a refused address is refused too. The HTTP client resolves the name again
when it connects; a DNS answer that changes in between (rebinding) is not
caught here, which is why the metadata addresses should also be blocked in
the network where that matters.
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

    async def check(self, host: str, port: int) -> None:
        name = host.lower().rstrip(".")
        if name in self.hosts:
            raise EgressRefusedError(
                f"Calls to {host} are refused by this installation "
                "(AUTHWIRE_EGRESS_DENY, or a cloud metadata host)."
            )
        try:
            addresses = [str(ipaddress.ip_address(name.strip("[]")))]
        except ValueError:  # a name, not an address literal: resolve it
            try:
                infos = await anyio.getaddrinfo(name, port, type=socket.SOCK_STREAM)
            except OSError:
                return  # the HTTP client reports the failure to resolve
            addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            network = self._refused_address(address)
            if network is not None:
                raise EgressRefusedError(
                    f"Calls to {host} are refused: it resolves to an address in "
                    f"{network}, which this installation does not let methods "
                    "reach (cloud metadata, or AUTHWIRE_EGRESS_DENY)."
                )
