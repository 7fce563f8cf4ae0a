"""The access log keeps callback requests but not their codes and states."""

from __future__ import annotations

import logging

from authwire.web.access_log import CallbackQueryFilter


def access_line(path: str) -> logging.LogRecord:
    """A record shaped as uvicorn logs each request."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_the_callbacks_query_is_replaced() -> None:
    record = access_line("/oauth/callback?code=c0de-SECRET&state=st4te-SECRET")

    assert CallbackQueryFilter().filter(record) is True
    line = record.getMessage()
    assert "SECRET" not in line
    assert line == '127.0.0.1:5000 - "GET /oauth/callback?[redacted] HTTP/1.1" 200'


def test_a_callback_behind_a_path_prefix_is_redacted_too() -> None:
    record = access_line("/authwire/oauth/callback?code=c0de-SECRET")

    CallbackQueryFilter().filter(record)
    assert "/authwire/oauth/callback?[redacted]" in record.getMessage()


def test_other_requests_are_logged_as_they_came() -> None:
    paths = [
        "/api/v1/applications/1/web-service-logs?success=false",
        "/oauth/callback",
        "/healthz",
    ]
    for path in paths:
        record = access_line(path)
        CallbackQueryFilter().filter(record)
        assert f'"GET {path} HTTP/1.1"' in record.getMessage()


def test_records_of_another_shape_pass_untouched() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s", ("x",), None
    )
    assert CallbackQueryFilter().filter(record) is True
    assert record.getMessage() == "x"
