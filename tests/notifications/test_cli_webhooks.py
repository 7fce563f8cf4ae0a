"""`authwire webhooks ...` and `users create --email`, as an operator runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from authwire.errors import InvalidInputError
from authwire.runtime import Runtime
from authwire.users import create_user
from tests.test_cli import authwire


def test_webhooks_are_created_listed_and_deleted_with_the_secret_shown_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    authwire(data_dir, "applications", "create", "IT Desk")
    refused = authwire(
        data_dir, "webhooks", "create", "IT Desk", "http://hooks.example.edu/x"
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: The webhook endpoint is not valid: url must use https://: tokens "
        "and secrets would otherwise cross the network unencrypted. (Plain http "
        "is accepted for loopback hosts, or everywhere with "
        "AUTHWIRE_ALLOW_HTTP_ENDPOINTS=true.)"
    ]
    assert refused.stdout == ""

    created = authwire(
        data_dir,
        "webhooks",
        "create",
        "IT Desk",
        "https://hooks.example.edu/authwire",
        "--description",
        "Desk bot",
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert len(secret) >= 43 and " " not in secret

    listed = authwire(data_dir, "webhooks", "list", "IT Desk")
    assert listed.returncode == 0, listed.stderr
    [endpoint] = json.loads(listed.stdout)
    assert endpoint["url"] == "https://hooks.example.edu/authwire"
    assert endpoint["description"] == "Desk bot"
    assert secret not in listed.stdout
    assert secret.encode() not in (data_dir / "authwire.db").read_bytes()

    deleted = authwire(data_dir, "webhooks", "delete", "IT Desk", str(endpoint["id"]))
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(authwire(data_dir, "webhooks", "list", "1").stdout) == []


def test_a_user_is_created_with_the_address_for_notifications(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    bad = authwire(
        data_dir, "users", "create", "bob", "--no-password", "--email", "bob at desk"
    )
    good = authwire(
        data_dir,
        "users",
        "create",
        "ann",
        "--no-password",
        "--email",
        "ann@desk.example.edu",
    )

    assert bad.returncode == 1
    assert "email: must be one e-mail address" in bad.stderr
    assert good.returncode == 0, good.stderr
    with sqlite3.connect(data_dir / "authwire.db") as database:
        rows = database.execute("SELECT username, email FROM users").fetchall()
    assert rows == [("ann", "ann@desk.example.edu")]


async def test_an_address_that_could_inject_headers_is_refused(
    runtime: Runtime,
) -> None:
    bad = ["ann@desk.example.edu\n", "ann@desk\r\nBcc: x@y.z", "ann", "a@b@c"]
    async with runtime.sessions() as session:
        for email in bad:
            with pytest.raises(InvalidInputError) as refused:
                await create_user(
                    session, "ann", password=None, is_superuser=False, email=email
                )
            assert list(refused.value.fields) == ["email"], email
