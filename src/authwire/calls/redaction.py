"""Keeping secrets out of the web service logs.

Two layers: headers and query parameters that carry credentials by their
nature or by the admin's mark are replaced by name, and every secret value
the call used (token, password, key, secret entries) is replaced wherever it
appears in what is stored, including bodies that echo it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
    }
)

# Shorter values are too likely to appear by chance to be replaced in text
# (the names that carry them are still redacted).
MIN_SECRET_LENGTH = 4


class Redactor:
    def __init__(
        self,
        *,
        values: Iterable[str],
        header_names: Iterable[str] = (),
        query_names: Iterable[str] = (),
    ) -> None:
        self._values = sorted(
            {value for value in values if len(value) >= MIN_SECRET_LENGTH},
            key=len,
            reverse=True,  # longest first, so a secret that contains another goes whole
        )
        self._headers = SECRET_HEADERS | {name.lower() for name in header_names}
        self._query = {name for name in query_names}

    def with_values(self, values: Iterable[str]) -> Redactor:
        """The same names, and these secret values as well."""
        return Redactor(
            values=[*self._values, *values],
            header_names=self._headers,
            query_names=self._query,
        )

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: REDACTED if name.lower() in self._headers else self.text(value) or ""
            for name, value in headers.items()
        }

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        query = [
            (name, REDACTED if name in self._query else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        rebuilt = urlunsplit(
            (parts.scheme, netloc, parts.path, urlencode(query, safe="[]"), "")
        )
        return self.text(rebuilt) or ""
