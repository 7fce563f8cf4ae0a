"""Pytest plugin: one real authorization server for the whole test session.

Load it with ``pytest_plugins = ["tests.authorization_server.plugin"]`` in the root
conftest. Starting the server takes a couple of seconds, so it is shared; tests that
change its runtime knobs call ``authorization_server.restore_defaults()`` after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import AuthorizationServer


@pytest.fixture(scope="session")
def authorization_server() -> Iterator[AuthorizationServer]:
    """A django-oauth-toolkit server on 127.0.0.1, stopped at the end of the session."""
    server = AuthorizationServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
