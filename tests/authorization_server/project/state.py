"""Runtime knobs of the test server, changed through the control API.

They live in process memory rather than in Django settings because the tests change
them while the server runs; one uvicorn process serves every request, and Django runs
each request's sync code in its own thread, hence the lock.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

ACCESS_TOKEN_SECONDS_ENV = "AUTHZ_SERVER_ACCESS_TOKEN_SECONDS"
DEFAULT_ACCESS_TOKEN_SECONDS = 3600

_lock = threading.Lock()
_access_token_seconds = int(
    os.environ.get(ACCESS_TOKEN_SECONDS_ENV, DEFAULT_ACCESS_TOKEN_SECONDS)
)
_token_delay_seconds = 0.0
_token_requests: dict[str, Counter[str]] = {}


def access_token_lifetime(request: Any = None) -> int:
    """Lifetime of the next access token.

    oauthlib calls this for every token it mints (it is passed as the server's
    ``token_expires_in``), which is what lets a test shorten lifetimes mid-session.
    """
    with _lock:
        return _access_token_seconds


def set_access_token_lifetime(seconds: int) -> None:
    global _access_token_seconds
    with _lock:
        _access_token_seconds = seconds


def token_delay() -> float:
    with _lock:
        return _token_delay_seconds


def set_token_delay(seconds: float) -> None:
    global _token_delay_seconds
    with _lock:
        _token_delay_seconds = seconds


def record_token_request(client_id: str, grant_type: str) -> None:
    with _lock:
        _token_requests.setdefault(client_id, Counter())[grant_type] += 1


def token_requests(client_id: str) -> dict[str, int]:
    with _lock:
        return dict(_token_requests.get(client_id, Counter()))


def all_token_requests() -> dict[str, dict[str, int]]:
    with _lock:
        return {client: dict(counts) for client, counts in _token_requests.items()}


def reset_token_requests() -> None:
    with _lock:
        _token_requests.clear()
