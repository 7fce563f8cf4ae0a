"""Reading a provider's endpoints from its issuer URL.

RFC 8414 (OAuth 2.0 Authorization Server Metadata) puts the document at
`/.well-known/oauth-authorization-server` inserted before the issuer's path;
OpenID Connect Discovery 1.0 appends `/.well-known/openid-configuration` to
the issuer. Both are tried, in that order. The document's `issuer` must equal
the URL asked for (RFC 8414 section 3.3), or an attacker's metadata could
name someone else's endpoints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

log = logging.getLogger(__name__)


class DiscoveryError(Exception):
    """The metadata could not be read or is not usable; the message says why."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str | None
    token_endpoint: str | None
    revocation_endpoint: str | None
    # RFC 9207 section 3: the server always sends `iss` in its responses.
    iss_parameter_supported: bool


def metadata_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oauth = urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            f"/.well-known/oauth-authorization-server{path}",
            "",
            "",
        )
    )
    openid = urlunsplit(
        (parts.scheme, parts.netloc, f"{path}/.well-known/openid-configuration", "", "")
    )
    return [oauth, openid]


async def discover(
    issuer: str,
    *,
    request_timeout: float,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> ProviderMetadata:
    problems: list[str] = []
    async with httpx2.AsyncClient(
        timeout=request_timeout, transport=transport, follow_redirects=False
    ) as http:
        for url in metadata_urls(issuer):
            try:
                response = await http.get(url, headers={"Accept": "application/json"})
            except httpx2.HTTPError as exc:
                problems.append(f"{url}: {type(exc).__name__}")
                continue
            if response.status_code != 200:
                problems.append(f"{url}: HTTP {response.status_code}")
                continue
            try:
                document = response.json()
            except ValueError:
                problems.append(f"{url}: not JSON")
                continue
            if isinstance(document, dict):
                return _metadata(issuer, url, document)
            problems.append(f"{url}: not a JSON object")
    raise DiscoveryError(
        "no metadata document was found (" + "; ".join(problems) + "). Check the "
        "issuer URL, or enter the authorization and token endpoints yourself."
    )


def _metadata(issuer: str, url: str, document: dict[str, Any]) -> ProviderMetadata:
    stated = document.get("issuer")
    if stated != issuer:
        raise DiscoveryError(
            f"the metadata at {url} names the issuer {stated!r}, not {issuer!r} "
            "(RFC 8414 section 3.3 requires them to be identical). Enter the "
            "issuer exactly as the provider states it."
        )

    def text(name: str) -> str | None:
        value = document.get(name)
        return value if isinstance(value, str) and value else None

    log.info("read the metadata of %s from %s", issuer, url)
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=text("authorization_endpoint"),
        token_endpoint=text("token_endpoint"),
        revocation_endpoint=text("revocation_endpoint"),
        iss_parameter_supported=document.get(
            "authorization_response_iss_parameter_supported"
        )
        is True,
    )
