"""Uvicorn's access log, without the authorization codes.

The provider sends the browser back to `/oauth/callback?code=...&state=...`,
and the access log writes every request's path with its query. The code is
spent at once and bound to a PKCE verifier, but it is a credential all the
same, and the state is what lets a callback through: neither belongs in a log.
The query of the callback is replaced; other lines are left as they are.
"""

from __future__ import annotations

import logging

CALLBACK_PATH = "/oauth/callback"


class CallbackQueryFilter(logging.Filter):
    """Rewrites the path argument of uvicorn's access lines, which are logged
    as `'%s - "%s %s HTTP/%s" %d'` with (client, method, path, version,
    status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path = args[2]
            if isinstance(path, str):
                # endswith: behind a proxy the path may carry a prefix.
                route, query, _ = path.partition("?")
                if query and route.endswith(CALLBACK_PATH):
                    record.args = (*args[:2], f"{route}?[redacted]", *args[3:])
        return True


def redact_callback_queries() -> None:
    """Install the filter on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, CallbackQueryFilter) for f in logger.filters):
        logger.addFilter(CallbackQueryFilter())
